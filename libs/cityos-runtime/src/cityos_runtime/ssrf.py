"""The SSRF guard for every outbound URL (@context fetches, notification endpoints, connector sources)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Resolves (host, port) to the IP address strings a connection could reach.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "mqtt": 1883, "mqtts": 8883}
# IPv6 prefix that NAT64 gateways translate to the IPv4 address in the last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Hosts like "2130706433", "0x7f.1" or "017.0.0.1" that resolvers read as IPv4 in surprising ways.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")


class UnsafeUrlError(ValueError):
    """An outbound URL is refused; the message says why."""


async def check_outbound_url(
    url: str,
    *,
    allow_private: bool,
    allowed_schemes: Iterable[str] = ("http", "https"),
    resolver: Resolver | None = None,
) -> None:
    """Raise UnsafeUrlError unless `url` is safe to fetch from inside the platform.

    Checks the scheme, that there is a host and no credentials, then resolves the host and refuses any
    non-public address (loopback, private, link-local, multicast, reserved, unspecified, shared, and IPv6
    forms that embed such an IPv4 address) unless `allow_private`. The HTTP client resolves again when it
    connects, so callers that need protection from DNS rebinding must also pin the connection address.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"malformed URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    schemes = tuple(s.lower() for s in allowed_schemes)
    if scheme not in schemes:
        raise UnsafeUrlError(
            f"URL scheme {scheme or '(none)'!r} is not allowed (allowed: {', '.join(schemes)})"
        )
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("URL must not carry credentials (user:password@host)")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError(f"URL {url!r} has no host")
    if allow_private:
        return
    literal = _parse_ip(host)
    if literal is not None:
        _check_address(host, literal)
        return
    if _NUMERIC_HOST.match(host):
        raise UnsafeUrlError(f"host {host!r} is an ambiguous numeric address")
    resolve = resolver or _resolve
    try:
        addresses = await resolve(host, port or _DEFAULT_PORTS.get(scheme, 443))
    except OSError as exc:
        raise UnsafeUrlError(f"host {host!r} cannot be resolved: {exc}") from None
    if not addresses:
        raise UnsafeUrlError(f"host {host!r} resolves to no address")
    # Every address must be public: the connecting client may pick any of them.
    for text in addresses:
        address = _parse_ip(text)
        if address is None:
            raise UnsafeUrlError(f"host {host!r} resolved to an unparseable address {text!r}")
        _check_address(host, address)


def unsafe_reason(address: IPAddress) -> str | None:
    """Why `address` must not be reached from inside the platform, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = unsafe_reason(embedded)
            return f"embeds {reason} IPv4 address {embedded}" if reason else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        # e.g. 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24: not private, still not the internet.
        return "non-global"
    return None


def _check_address(host: str, address: IPAddress) -> None:
    reason = unsafe_reason(address)
    if reason is not None:
        shown = host if host == str(address) else f"{host} ({address})"
        raise UnsafeUrlError(f"address {shown} is {reason}; outbound calls to it are not allowed")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address maps to (::ffff:a.b.c.d, 6to4, NAT64, IPv4-compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    value = int(address)
    # Deprecated IPv4-compatible form ::a.b.c.d (but not :: and ::1, handled as unspecified/loopback).
    if value >> 32 == 0 and value > 1:
        return ipaddress.IPv4Address(value)
    return None


def _parse_ip(text: str) -> IPAddress | None:
    try:
        # Zone ids ("fe80::1%eth0") only ever appear on link-local addresses, refused anyway.
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> Sequence[str]:
    """Resolve with the event loop's getaddrinfo (runs in the default executor)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
