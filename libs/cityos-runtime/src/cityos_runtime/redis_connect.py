"""One Redis connector for every service: standalone, Redis Cluster or Sentinel, as the chart configures it.

The chart renders (charts/cityos/templates/_helpers.tpl, _config.tpl):

- `REDIS_MODE`: `standalone` (default when unset), `cluster` or `sentinel`;
- `REDIS_URL`: scheme (`rediss://` = TLS), ACL user and password, and in standalone mode host, port and
  database; in cluster mode the first node (a cluster has database 0 only); in sentinel mode the host is
  the primary's name and the path its database;
- `REDIS_CLUSTER_NODES` (cluster) and `REDIS_SENTINEL_NODES` (sentinel): `host:port,host:port`;
- `REDIS_SENTINEL_MASTER` (sentinel): the name the sentinels monitor.

The module is not called `redis.py` so that `import redis` inside the package still finds redis-py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import unquote, urlsplit

from redis._parsers.commands import AsyncCommandsParser
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, ClusterPipeline
from redis.asyncio.sentinel import Sentinel

from cityos_runtime.config import ConfigError, _raw, env_list, env_str

RedisMode = Literal["standalone", "cluster", "sentinel"]
# What connect_redis returns, and what its pipeline() returns: code written against these unions is
# checked by mypy for both kinds of client.
RedisClient: TypeAlias = Redis | RedisCluster
RedisPipeline: TypeAlias = Pipeline | ClusterPipeline
_MODES: tuple[RedisMode, ...] = ("standalone", "cluster", "sentinel")
_SCHEMES = frozenset({"redis", "rediss", "unix"})


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where Redis is and how to reach it; `url` may hold a password, so it never appears in a repr."""

    url: str = field(repr=False)
    mode: RedisMode = "standalone"
    cluster_nodes: tuple[tuple[str, int], ...] = ()
    sentinel_nodes: tuple[tuple[str, int], ...] = ()
    sentinel_master: str = ""

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None) -> RedisSettings:
        """Read REDIS_URL (required) and the mode variables; ConfigError names the first bad variable."""
        url = env_str("REDIS_URL", environ=environ)
        return cls._read(url, environ)

    @classmethod
    def from_env_optional(cls, *, environ: Mapping[str, str] | None = None) -> RedisSettings | None:
        """Like `from_env`, but None when REDIS_URL is unset (for services that can run without Redis)."""
        url = _raw("REDIS_URL", environ)
        return None if url is None else cls._read(url, environ)

    @classmethod
    def _read(cls, url: str, environ: Mapping[str, str] | None) -> RedisSettings:
        mode = env_str("REDIS_MODE", "standalone", environ=environ).lower()
        if mode not in _MODES:
            raise ConfigError(
                f"environment variable REDIS_MODE must be one of {', '.join(_MODES)}, got {mode!r}"
            )
        parts = _split_url(url)
        if mode == "cluster":
            if parts.scheme == "unix":
                raise ConfigError(
                    "environment variable REDIS_URL: a Redis Cluster is not reached by a unix socket"
                )
            if _database(parts.path) != 0:
                raise ConfigError(
                    "environment variable REDIS_URL: a Redis Cluster has database 0 only, "
                    f"got database {_database(parts.path)}"
                )
            nodes = _nodes("REDIS_CLUSTER_NODES", env_list("REDIS_CLUSTER_NODES", [], environ=environ))
            if not nodes:  # the chart always renders the nodes; a hand-made env may name just one seed
                nodes = ((_url_host(parts), parts.port or 6379),)
            return cls(url, "cluster", cluster_nodes=nodes)
        if mode == "sentinel":
            sentinels = _nodes("REDIS_SENTINEL_NODES", env_list("REDIS_SENTINEL_NODES", [], environ=environ))
            if not sentinels:
                raise ConfigError(
                    "environment variable REDIS_SENTINEL_NODES is required when REDIS_MODE=sentinel"
                )
            if parts.scheme == "unix":
                raise ConfigError("environment variable REDIS_URL: with Sentinel, use redis:// or rediss://")
            # The chart puts the primary's name in REDIS_URL's host as well; the explicit variable wins.
            master = env_str("REDIS_SENTINEL_MASTER", parts.hostname or "", environ=environ)
            if not master:
                raise ConfigError(
                    "environment variable REDIS_SENTINEL_MASTER is required when REDIS_MODE=sentinel"
                )
            _database(parts.path)  # checked now, so a bad path fails at start-up
            return cls(url, "sentinel", sentinel_nodes=sentinels, sentinel_master=master)
        if parts.scheme != "unix":
            _database(parts.path)
        return cls(url, "standalone")


def connect_redis(settings: RedisSettings, **options: Any) -> RedisClient:
    """A `redis.asyncio` client for the configured mode (nothing is contacted yet).

    `options` are client options every mode understands (decode_responses, timeouts,
    health_check_interval, socket_keepalive); credentials and TLS come from REDIS_URL.
    """
    if settings.mode == "standalone":
        return Redis.from_url(settings.url, **options)
    parts = _split_url(settings.url)
    auth = _auth(parts)
    if settings.mode == "cluster":
        nodes = [ClusterNode(host, port) for host, port in settings.cluster_nodes]
        cluster = RedisCluster(startup_nodes=nodes, **auth, **options)
        cluster.commands_parser = LocalKeysParser()
        return cluster
    return _sentinel_master(settings, parts, auth, options)


class LocalKeysParser(AsyncCommandsParser):
    """Finds the keys of the multi-key commands the services use without asking a node.

    redis-py's cluster client routes a command by its keys; for commands whose key positions move
    (XREADGROUP, ZINTERSTORE, ZUNIONSTORE, ...) it asks a node with COMMAND GETKEYS first, one extra round
    trip per command: an empty XREADGROUP sweep over 40 tenants took ~12 ms instead of ~2 ms. (The base
    class lives in a private redis-py module; the unit tests fail at import if it moves.)
    """

    async def get_keys(self, *args: Any) -> tuple[Any, ...] | None:
        keys = movable_keys(args)
        return keys if keys is not None else await super().get_keys(*args)


def movable_keys(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The keys of XREAD / XREADGROUP / Z*STORE / ZINTER-style commands from their syntax; None for others."""
    if not args:
        return None
    name = _word(args[0])
    if name in ("XREAD", "XREADGROUP"):
        i = 4 if name == "XREADGROUP" else 1  # after GROUP <group> <consumer>
        while i < len(args):
            word = _word(args[i])
            if word == "STREAMS":
                rest = args[i + 1 :]
                return tuple(rest[: len(rest) // 2]) if rest and len(rest) % 2 == 0 else None
            i += 2 if word in ("COUNT", "BLOCK") else 1
        return None
    try:
        if name in ("ZINTERSTORE", "ZUNIONSTORE", "ZDIFFSTORE"):
            return (args[1], *args[3 : 3 + int(args[2])])
        if name in ("ZINTER", "ZUNION", "ZDIFF", "ZINTERCARD", "SINTERCARD"):
            return tuple(args[2 : 2 + int(args[1])])
    except (IndexError, ValueError):
        return None
    return None


def _word(value: Any) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text.upper()


class SentinelMasterRedis(Redis):
    """The primary found through Sentinel; closing it closes the sentinel connections too."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_manager is not None:
            for client in self.sentinel_manager.sentinels:
                await client.aclose()


def _sentinel_master(
    settings: RedisSettings, parts: _UrlParts, auth: dict[str, Any], options: dict[str, Any]
) -> Redis:
    # Sentinels get the transport options (timeouts, TLS) but not the primary's ACL credentials:
    # redis-py's default, and the chart has no separate sentinel password.
    transport = {k: v for k, v in options.items() if k.startswith("socket_")}
    if auth.get("ssl"):
        transport["ssl"] = True
    # redis-py leaves Sentinel.__init__ unannotated.
    sentinel = Sentinel(list(settings.sentinel_nodes), sentinel_kwargs=transport)  # type: ignore[no-untyped-call]
    client = sentinel.master_for(
        settings.sentinel_master,
        redis_class=SentinelMasterRedis,
        db=_database(parts.path),
        **auth,
        **options,
    )
    assert isinstance(client, SentinelMasterRedis)  # master_for builds redis_class
    client.sentinel_manager = sentinel
    return client


@dataclass(frozen=True, slots=True)
class _UrlParts:
    scheme: str
    hostname: str | None
    port: int | None
    username: str | None
    password: str | None
    path: str


def _split_url(url: str) -> _UrlParts:
    """The parts of REDIS_URL; ConfigError (without the URL, which may hold a password) when malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ConfigError(f"environment variable REDIS_URL is not a valid URL: {error}") from None
    if parts.scheme not in _SCHEMES:
        raise ConfigError(
            "environment variable REDIS_URL must start with redis://, rediss:// or unix://, "
            f"got {parts.scheme!r}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("environment variable REDIS_URL has no host")
    return _UrlParts(
        parts.scheme,
        parts.hostname,
        port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        parts.path,
    )


def _url_host(parts: _UrlParts) -> str:
    return parts.hostname or ""


def _database(path: str) -> int:
    """The database number of a URL path (`/3`; empty: 0)."""
    text = path.lstrip("/")
    if not text:
        return 0
    if not text.isdigit():
        raise ConfigError(f"environment variable REDIS_URL: the path must be a database number, got {text!r}")
    return int(text)


def _auth(parts: _UrlParts) -> dict[str, Any]:
    """Credentials and TLS of REDIS_URL as client options."""
    auth: dict[str, Any] = {}
    if parts.username:
        auth["username"] = parts.username
    if parts.password:
        auth["password"] = parts.password
    if parts.scheme == "rediss":
        auth["ssl"] = True
    return auth


def _nodes(name: str, items: list[str]) -> tuple[tuple[str, int], ...]:
    """`host:port` items of variable `name` (IPv6 in brackets); ConfigError names the variable."""
    nodes: list[tuple[str, int]] = []
    for item in items:
        host, sep, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"environment variable {name}: {item!r} is not host:port")
        nodes.append((host, int(port)))
    return tuple(nodes)
