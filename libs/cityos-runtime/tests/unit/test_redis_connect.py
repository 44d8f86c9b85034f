"""RedisSettings reads what the chart renders for each mode; connect_redis builds the matching client."""

from __future__ import annotations

import pytest
from cityos_runtime.config import ConfigError
from cityos_runtime.redis_connect import (
    LocalKeysParser,
    RedisSettings,
    SentinelMasterRedis,
    connect_redis,
    movable_keys,
)
from redis.asyncio import Redis, RedisCluster


def test_standalone_by_default_exactly_as_before() -> None:
    settings = RedisSettings.from_env(environ={"REDIS_URL": "redis://cache:6380/3"})
    assert settings.mode == "standalone"
    client = connect_redis(settings, decode_responses=True)
    assert type(client) is Redis
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["decode_responses"]) == (
        "cache",
        6380,
        3,
        True,
    )


def test_redis_url_is_required_and_named() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        RedisSettings.from_env(environ={})
    assert RedisSettings.from_env_optional(environ={}) is None


def test_the_password_never_appears_in_the_repr() -> None:
    settings = RedisSettings.from_env(environ={"REDIS_URL": "redis://app:s3cret@cache:6379/0"})
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REDIS_MODE": "replicated"}, "REDIS_MODE"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://cache:port"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://cache:6379/zero"}, "REDIS_URL"),
        ({"REDIS_MODE": "cluster", "REDIS_URL": "redis://a:6379/2"}, "REDIS_URL"),
        ({"REDIS_MODE": "cluster", "REDIS_CLUSTER_NODES": "a:6379,b"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_MODE": "cluster", "REDIS_CLUSTER_NODES": "a:70000"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_MODE": "sentinel"}, "REDIS_SENTINEL_NODES"),
        ({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_NODES": ":26379"}, "REDIS_SENTINEL_NODES"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as raised:
        RedisSettings.from_env(environ={"REDIS_URL": "redis://user:pw-secret@a:6379", **env})
    assert "pw-secret" not in str(raised.value)


def test_cluster_as_the_chart_renders_it() -> None:
    env = {
        "REDIS_MODE": "cluster",
        "REDIS_URL": "rediss://app:pw@redis-0:6379",
        "REDIS_CLUSTER_NODES": "redis-0:6379,redis-1:6380,[::1]:6381",
    }
    settings = RedisSettings.from_env(environ=env)
    assert settings.cluster_nodes == (("redis-0", 6379), ("redis-1", 6380), ("::1", 6381))
    client = connect_redis(settings, decode_responses=True, socket_timeout=3)
    assert isinstance(client, RedisCluster)
    assert [(n.host, n.port) for n in client.startup_nodes] == [
        ("redis-0", 6379),
        ("redis-1", 6380),
        ("::1", 6381),
    ]
    kwargs = client.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["decode_responses"]) == ("app", "pw", True)
    assert kwargs["connection_class"].__name__ == "SSLConnection"


def test_cluster_without_node_list_seeds_from_the_url() -> None:
    env = {"REDIS_MODE": "CLUSTER", "REDIS_URL": "redis://seed:7000"}
    assert RedisSettings.from_env(environ=env).cluster_nodes == (("seed", 7000),)


def test_sentinel_as_the_chart_renders_it() -> None:
    env = {
        "REDIS_MODE": "sentinel",
        "REDIS_URL": "redis://:p%40ss@mymaster/2",
        "REDIS_SENTINEL_NODES": "s1:26379, s2:26379",
        "REDIS_SENTINEL_MASTER": "mymaster",
    }
    settings = RedisSettings.from_env(environ=env)
    assert (settings.sentinel_nodes, settings.sentinel_master) == ((("s1", 26379), ("s2", 26379)), "mymaster")
    client = connect_redis(settings, decode_responses=False, socket_timeout=2)
    assert isinstance(client, SentinelMasterRedis)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["password"], kwargs["db"], kwargs["socket_timeout"]) == ("p@ss", 2, 2)
    assert client.sentinel_manager is not None
    sentinel_kwargs = client.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert sentinel_kwargs["password"] is None  # the primary's credentials stay with the primary


def test_sentinel_master_defaults_to_the_url_host() -> None:
    env = {"REDIS_MODE": "sentinel", "REDIS_URL": "redis://primary/0", "REDIS_SENTINEL_NODES": "s1:26379"}
    assert RedisSettings.from_env(environ=env).sentinel_master == "primary"


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (
            (
                "XREADGROUP",
                b"GROUP",
                "g",
                "c",
                b"COUNT",
                10,
                b"BLOCK",
                5,
                b"STREAMS",
                "{a}s",
                "{a}t",
                ">",
                ">",
            ),
            ("{a}s", "{a}t"),
        ),
        (("XREADGROUP", b"GROUP", "STREAMS", "c", b"NOACK", b"STREAMS", "s", "0"), ("s",)),
        (("XREAD", "COUNT", 2, "STREAMS", "s", "$"), ("s",)),
        (("ZINTERSTORE", "{t}d", 2, "{t}a", "{t}b", "WEIGHTS", 0, 0), ("{t}d", "{t}a", "{t}b")),
        (("ZUNIONSTORE", "d", 1, "a"), ("d", "a")),
        (("ZINTERCARD", 2, "a", "b", "LIMIT", 5), ("a", "b")),
        (("GET", "k"), None),
        (("XREADGROUP", b"GROUP", "g", "c", b"STREAMS", "s"), None),  # malformed: left to redis-py
    ],
)
def test_cluster_routing_finds_movable_keys_without_asking_a_node(
    args: tuple[object, ...], keys: tuple[object, ...] | None
) -> None:
    assert movable_keys(args) == keys


def test_cluster_clients_use_the_local_keys_parser() -> None:
    settings = RedisSettings.from_env(environ={"REDIS_MODE": "cluster", "REDIS_URL": "redis://seed:7000"})
    client = connect_redis(settings)
    assert isinstance(client, RedisCluster) and isinstance(client.commands_parser, LocalKeysParser)
