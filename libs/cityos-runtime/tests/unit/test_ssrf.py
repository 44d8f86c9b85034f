"""The outbound URL guard refuses unsafe schemes, credentials and non-public addresses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cityos_runtime.ssrf import UnsafeUrlError, check_outbound_url


def resolver_for(*addresses: str) -> object:
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        return addresses

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def failing_resolver(host: str, port: int) -> Sequence[str]:
    raise OSError(f"Name or service not known: {host}")


async def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError("literal addresses must not be resolved")


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/context.jsonld",
        "http://8.8.8.8:8080/notify",
        "https://[2606:4700:4700::1111]/ctx",
        "https://[::ffff:8.8.8.8]/ctx",
    ],
)
async def test_public_literal_addresses_pass(url: str) -> None:
    await check_outbound_url(url, allow_private=False, resolver=no_dns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.8.9.10:9000/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-global"),
        ("http://[::1]/", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fe80::1%25eth0]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "embeds loopback IPv4 address 127.0.0.1"),
        ("http://[::ffff:10.0.0.1]/", "embeds private IPv4 address 10.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "embeds link-local IPv4"),
        ("http://[2002:7f00:1::]/", "embeds loopback IPv4 address 127.0.0.1"),
        ("http://[64:ff9b::a00:1]/", "embeds private IPv4 address 10.0.0.1"),
        ("http://[::127.0.0.1]/", "embeds loopback IPv4"),
    ],
)
async def test_non_public_literal_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrlError, match=reason):
        await check_outbound_url(url, allow_private=False, resolver=no_dns)  # type: ignore[arg-type]


async def test_allow_private_permits_private_addresses_without_resolving() -> None:
    await check_outbound_url("http://127.0.0.1:1026/ngsi-ld", allow_private=True, resolver=no_dns)  # type: ignore[arg-type]
    await check_outbound_url("http://redis.internal/", allow_private=True, resolver=no_dns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://example.org/", "scheme 'gopher' is not allowed"),
        ("example.org/path", r"scheme '\(none\)' is not allowed"),
        ("http:///path-only", "has no host"),
        ("https://user:pw@example.org/", "must not carry credentials"),
        ("https://user@example.org/", "must not carry credentials"),
        ("http://example.org:99999/", "malformed URL"),
        ("http://[::1/", "malformed URL"),
    ],
)
async def test_malformed_or_unsafe_urls_are_refused_even_when_private_is_allowed(
    url: str, reason: str
) -> None:
    with pytest.raises(UnsafeUrlError, match=reason):
        await check_outbound_url(url, allow_private=True, resolver=no_dns)  # type: ignore[arg-type]


async def test_scheme_is_case_insensitive_and_configurable() -> None:
    await check_outbound_url("HTTPS://8.8.8.8/", allow_private=False)
    await check_outbound_url("mqtts://8.8.8.8/", allow_private=False, allowed_schemes=("mqtts",))
    with pytest.raises(UnsafeUrlError, match="allowed: mqtts"):
        await check_outbound_url("https://8.8.8.8/", allow_private=False, allowed_schemes=("mqtts",))


async def test_hostname_is_resolved_with_the_default_port() -> None:
    resolve = resolver_for("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    await check_outbound_url("https://Example.ORG/ctx.jsonld", allow_private=False, resolver=resolve)  # type: ignore[arg-type]
    assert resolve.calls == [("example.org", 443)]  # type: ignore[attr-defined]
    resolve = resolver_for("93.184.215.14")
    await check_outbound_url("http://example.org:8080/", allow_private=False, resolver=resolve)  # type: ignore[arg-type]
    assert resolve.calls == [("example.org", 8080)]  # type: ignore[attr-defined]


async def test_any_private_resolved_address_refuses_the_host() -> None:
    # A name with one public and one internal record must fail: the client may connect to either.
    resolve = resolver_for("93.184.215.14", "10.0.0.5")
    with pytest.raises(UnsafeUrlError, match=r"address internal.example.org \(10.0.0.5\) is private"):
        await check_outbound_url("https://internal.example.org/", allow_private=False, resolver=resolve)  # type: ignore[arg-type]
    resolve = resolver_for("::ffff:192.168.0.7")
    with pytest.raises(UnsafeUrlError, match="embeds private IPv4"):
        await check_outbound_url("https://sneaky.example.org/", allow_private=False, resolver=resolve)  # type: ignore[arg-type]


async def test_resolution_failures_are_reported() -> None:
    with pytest.raises(UnsafeUrlError, match="cannot be resolved"):
        await check_outbound_url("https://nowhere.invalid/", allow_private=False, resolver=failing_resolver)
    with pytest.raises(UnsafeUrlError, match="resolves to no address"):
        await check_outbound_url("https://empty.example/", allow_private=False, resolver=resolver_for())  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017.0.0.1", "127.1"])
async def test_ambiguous_numeric_hosts_are_refused(host: str) -> None:
    with pytest.raises(UnsafeUrlError, match="ambiguous numeric address"):
        await check_outbound_url(f"http://{host}/", allow_private=False, resolver=no_dns)  # type: ignore[arg-type]


def test_unsafe_url_error_is_a_value_error() -> None:
    assert issubclass(UnsafeUrlError, ValueError)
