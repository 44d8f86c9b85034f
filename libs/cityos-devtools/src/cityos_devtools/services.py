"""The table of City OS services the local stack runs, in start-up order, and each one's environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cityos_devtools.processes import LOOPBACK
from cityos_devtools.settings import S3Settings


@dataclass
class StackEnv:
    """What services need to find each other: stores, and each started service's listening address."""

    redis_url: str
    s3: S3Settings
    gateway_port: int
    embedded_redis: bool = False  # the stack's own Valkey: a standalone server, whatever REDIS_MODE says
    auth_mode: str = "oidc"  # GATEWAY_AUTH_MODE: "oidc", or "open" for development (`--auth open`)
    admin_password: str = field(default="", repr=False)  # the identity service's bootstrap admin
    # service name -> "host:port" (gRPC) or "http://host:port", read from its {"event":"listening"} log line;
    # a comma list of them for a service started several times (`replicas`)
    addresses: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)  # service name -> processes (default 1)
    # services whose background work runs in a worker process of its own (`--broker-workers`: "broker")
    workers_apart: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ServiceSpec:
    """One service: its `python -m` module and the environment it gets on top of the common one.

    A service whose background work can run apart (`worker_env`) gets, when the stack asks for it
    (`--broker-workers`), serving processes with `serving_off` on top and one more process with `worker_env`.
    """

    name: str
    module: str
    env: Callable[[StackEnv], Mapping[str, str]]
    serving_off: Mapping[str, str] | None = None
    worker_env: Mapping[str, str] | None = None

    def serving_env(self, stack: StackEnv) -> Mapping[str, str]:
        """What the serving processes get on top of `env` (nothing unless workers run apart)."""
        if self.name in stack.workers_apart and self.serving_off is not None:
            return self.serving_off
        return {}


def common_env(stack: StackEnv) -> dict[str, str]:
    """Variables every service gets in the local profile."""
    return {
        "LOG_LEVEL": "INFO",
        # JSON so the runner can read each service's listening line; the files stay greppable.
        "LOG_FORMAT": "json",
        "REDIS_URL": stack.redis_url,
        # A REDIS_MODE exported for external servers must not send services to a cluster that is not there.
        **({"REDIS_MODE": "standalone"} if stack.embedded_redis else {}),
        **stack.s3.as_env(),
    }


def _broker_env(stack: StackEnv) -> dict[str, str]:
    return {
        "BROKER_GRPC_HOST": LOOPBACK,
        "BROKER_GRPC_PORT": "0",
        "BROKER_ALLOW_PRIVATE_URLS": "true",
        "BROKER_AUTO_CREATE_TENANTS": "true",
        # Notifications carry only what each subscription's owner may read (identity's policies).
        "IDENTITY_ADDRESS": stack.addresses["identity"],
    }


def gateway_url(stack: StackEnv) -> str:
    """The gateway's public origin, which is also the OIDC issuer."""
    return f"http://{LOOPBACK}:{stack.gateway_port}"


def _identity_env(stack: StackEnv) -> dict[str, str]:
    return {
        "IDENTITY_GRPC_HOST": LOOPBACK,
        "IDENTITY_GRPC_PORT": "0",
        # Tokens name the gateway's origin as their issuer: the gateway serves the OAuth endpoints.
        "IDENTITY_ISSUER": gateway_url(stack),
        "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": stack.admin_password,
    }


def _gateway_env(stack: StackEnv) -> dict[str, str]:
    return {
        "GATEWAY_HOST": LOOPBACK,
        "GATEWAY_PORT": str(stack.gateway_port),
        "BROKER_ADDRESS": stack.addresses["broker"],
        "IDENTITY_ADDRESS": stack.addresses["identity"],
        "IDENTITY_ISSUER": gateway_url(stack),
        "GATEWAY_AUTH_MODE": stack.auth_mode,
        "GATEWAY_RATE_LIMIT": "2000/s",
    }


# Start-up order: a service may read the address of any service above it. assets, catalog and connectors
# slot in here (before the gateway, which fronts them) as they are built.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", "cityos_identity", _identity_env),
    ServiceSpec(
        "broker",
        "cityos_broker",
        _broker_env,
        serving_off={"BROKER_NOTIFIER": "false", "BROKER_HISTORY_ENABLED": "false"},
        worker_env={"BROKER_NOTIFIER": "true", "BROKER_HISTORY_ENABLED": "true"},
    ),
    ServiceSpec("gateway", "cityos_gateway", _gateway_env),
)


def listening_address(event: Mapping[str, object]) -> str | None:
    """The address in a {"event": "listening", "url" | "port": ...} log record; None for other records."""
    if event.get("event") != "listening":
        return None
    url = event.get("url")
    if isinstance(url, str) and url:
        return url
    port = event.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return f"{LOOPBACK}:{port}"
    return None
