"""The printed example queries and the service table (no processes started)."""

import shlex
from urllib.parse import parse_qs, urlsplit

from cityos_devtools.access_seed import DemoAccess
from cityos_devtools.banner import example_queries, render_banner
from cityos_devtools.services import SERVICES, StackEnv, common_env, listening_address
from cityos_devtools.settings import S3Settings

GATEWAY = "http://127.0.0.1:8080"
S3 = S3Settings("127.0.0.1:9000", "access", "secret-key-value")


def test_example_urls_decode_to_the_intended_queries() -> None:
    q_query, geo_query = example_queries(GATEWAY)
    q_url, geo_url = urlsplit(q_query.url), urlsplit(geo_query.url)
    assert q_url.path == geo_url.path == "/ngsi-ld/v1/entities"
    assert parse_qs(q_url.query) == {"type": ["WaterLevelGauge"], "q": ["waterLevel>2.0"]}
    assert parse_qs(geo_url.query) == {
        "type": ["WaterLevelGauge,EvacuationShelter"],
        "georel": ["near;maxDistance==2000"],
        "geometry": ["Point"],
        "coordinates": ["[141.35,43.06]"],
    }
    for raw in (q_url.query, geo_url.query):
        assert not set(raw) & set(";[]>,"), "reserved characters are percent-encoded"


def test_curl_commands_are_shell_safe_with_the_tenant_header() -> None:
    for example in example_queries(GATEWAY):
        assert shlex.split(example.curl()) == ["curl", "-sS", example.url, "-H", "NGSILD-Tenant: sapporo"]


def test_banner_names_url_logs_and_commands_but_no_secret(tmp_path) -> None:
    log = tmp_path / "logs" / "gateway.log"
    text = render_banner(GATEWAY, tmp_path, [log], ["S3: 127.0.0.1:9000"])
    assert GATEWAY in text and str(log) in text
    assert all(example.curl() in text for example in example_queries(GATEWAY))
    assert S3.secret_key not in text


def test_listening_address_from_port_or_url() -> None:
    assert listening_address({"event": "listening", "port": 41531}) == "127.0.0.1:41531"
    assert listening_address({"event": "listening", "url": "http://127.0.0.1:9"}) == "http://127.0.0.1:9"
    assert listening_address({"event": "started", "port": 1}) is None
    assert listening_address({"event": "listening", "port": 0}) is None
    assert listening_address({"event": "listening", "port": True}) is None
    assert listening_address({"event": "listening", "port": "80"}) is None


def test_broker_and_identity_start_before_the_gateway_which_gets_their_addresses() -> None:
    names = [spec.name for spec in SERVICES]
    assert names.index("broker") < names.index("gateway")
    assert names.index("identity") < names.index("broker"), "the broker's notifier reads identity's policies"
    assert names.index("identity") < names.index("gateway")
    env = StackEnv(
        redis_url="redis://127.0.0.1:1/0",
        s3=S3,
        gateway_port=41000,
        addresses={"broker": "127.0.0.1:7", "identity": "127.0.0.1:8"},
        admin_password="bootstrap-secret",
    )
    specs = {spec.name: spec.env(env) for spec in SERVICES}
    gateway, broker, identity = specs["gateway"], specs["broker"], specs["identity"]
    assert gateway["BROKER_ADDRESS"] == "127.0.0.1:7"
    assert gateway["IDENTITY_ADDRESS"] == "127.0.0.1:8"
    assert gateway["GATEWAY_PORT"] == "41000"
    assert gateway["GATEWAY_AUTH_MODE"] == "oidc"
    # The issuer is the gateway's origin: it serves the OAuth endpoints and verifies the tokens.
    assert gateway["IDENTITY_ISSUER"] == identity["IDENTITY_ISSUER"] == "http://127.0.0.1:41000"
    assert identity["IDENTITY_GRPC_PORT"] == "0"
    assert identity["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] == "bootstrap-secret"
    assert "bootstrap-secret" not in repr(env)
    assert broker["BROKER_GRPC_PORT"] == "0"
    assert broker["BROKER_ALLOW_PRIVATE_URLS"] == "true"
    assert broker["IDENTITY_ADDRESS"] == "127.0.0.1:8"
    env.auth_mode = "open"
    assert next(s for s in SERVICES if s.name == "gateway").env(env)["GATEWAY_AUTH_MODE"] == "open"


def test_banner_explains_tokens_and_browser_login_in_oidc_mode(tmp_path) -> None:
    access = DemoAccess(
        "hokkaido.abc",
        "s3cret-value",
        "demo-resident",
        "pw-1234567890",
        "hokkaido.app",
        GATEWAY + "/demo/callback",
    )
    text = render_banner(GATEWAY, tmp_path, [], [], "oidc", access)
    assert "auth mode: oidc" in text
    assert "grant_type=client_credentials" in text and "hokkaido.abc:s3cret-value" in text
    assert f"{GATEWAY}/oauth2/authorize?" in text and "client_id=hokkaido.app" in text
    assert "demo-resident" in text and "pw-1234567890" in text
    assert "AUTHENTICATION IS OFF" in render_banner(GATEWAY, tmp_path, [], [], "open", None)


def test_common_env_carries_stores_and_json_logs() -> None:
    env = common_env(StackEnv(redis_url="redis://127.0.0.1:1/0", s3=S3, gateway_port=8080))
    assert env["REDIS_URL"] == "redis://127.0.0.1:1/0"
    assert env["S3_ENDPOINT"] == "127.0.0.1:9000"
    assert env["S3_SECRET_KEY"] == "secret-key-value"
    assert env["LOG_FORMAT"] == "json"
    assert "REDIS_MODE" not in env  # REDIS_URL from the environment: its REDIS_MODE (if any) is inherited


def test_embedded_valkey_is_standalone_even_with_a_stray_redis_mode() -> None:
    stack = StackEnv(redis_url="redis://127.0.0.1:1/0", s3=S3, gateway_port=8080, embedded_redis=True)
    assert common_env(stack)["REDIS_MODE"] == "standalone"


def test_s3_settings_from_env() -> None:
    assert S3Settings.from_env({}) is None
    settings = S3Settings.from_env(
        {"S3_ENDPOINT": "s3:9000", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "S3_SECURE": "TRUE"}
    )
    assert settings == S3Settings("s3:9000", "a", "b", "cityos", secure=True)
    assert "b" not in repr(settings).replace("bucket", "")


def test_s3_settings_need_both_keys() -> None:
    try:
        S3Settings.from_env({"S3_ENDPOINT": "s3:9000", "S3_ACCESS_KEY": "a"})
    except ValueError as exc:
        assert "S3_SECRET_KEY" in str(exc)
    else:
        raise AssertionError("missing S3_SECRET_KEY was accepted")


def test_broker_workers_take_the_background_work_off_the_serving_brokers() -> None:
    broker = next(spec for spec in SERVICES if spec.name == "broker")
    env = StackEnv(redis_url="redis://127.0.0.1:1/0", s3=S3, gateway_port=41000)
    assert broker.serving_env(env) == {}, "by default every broker runs the notifier and the recorder"
    env.workers_apart.add("broker")
    assert broker.serving_env(env) == {"BROKER_NOTIFIER": "false", "BROKER_HISTORY_ENABLED": "false"}
    assert broker.worker_env == {"BROKER_NOTIFIER": "true", "BROKER_HISTORY_ENABLED": "true"}
