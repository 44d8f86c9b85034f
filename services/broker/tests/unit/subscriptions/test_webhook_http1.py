"""The webhook client's HTTP/1.1 pieces without sockets: response framing, request bytes, targets."""

from __future__ import annotations

import pytest
from cityos_broker.subscriptions.http1 import MalformedResponse, ResponseReader
from cityos_broker.subscriptions.webhooks import encode_request, parse_target
from cityos_runtime.ssrf import UnsafeUrlError


def feed_bytewise(reader: ResponseReader, data: bytes) -> list[bool]:
    return [reader.feed(data[i : i + 1]) for i in range(len(data))]


@pytest.mark.parametrize(
    ("raw", "status", "keep_alive"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 200, False),
        (b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n", 500, True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n", 200, True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}", 201, True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, False),
        (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 200, True),
    ],
)
def test_complete_responses_give_status_and_reuse(raw: bytes, status: int, keep_alive: bool) -> None:
    whole = ResponseReader()
    assert whole.feed(raw)
    assert (whole.status, whole.keep_alive) == (status, keep_alive)
    # The same bytes one at a time: complete only at the last one.
    split = ResponseReader()
    steps = feed_bytewise(split, raw)
    assert steps[-1] and not any(steps[:-1])
    assert (split.status, split.keep_alive) == (status, keep_alive)


def test_incomplete_body_waits_for_more() -> None:
    reader = ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert reader.started and not reader.complete
    assert reader.feed(b"defghij")


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\n\r\nbody until close",  # no framing
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n...",  # not chunked: until close
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",  # longer than max_body
    ],
)
def test_bodies_not_worth_reading_end_the_response_and_the_connection(raw: bytes) -> None:
    reader = ResponseReader(max_body=1000)
    assert reader.feed(raw)
    assert reader.status == 200 and not reader.keep_alive


def test_bytes_after_the_response_make_the_connection_unusable() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert reader.status == 204 and not reader.keep_alive


@pytest.mark.parametrize(
    "raw",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
)
def test_malformed_responses_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedResponse):
        ResponseReader().feed(raw)


def test_an_endless_head_is_refused() -> None:
    reader = ResponseReader(max_head=100)
    with pytest.raises(MalformedResponse):
        reader.feed(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 50)


def test_request_bytes_carry_host_length_and_headers() -> None:
    target = parse_target("http://Example.org:8080/hook path?x=1 2#frag")
    raw = encode_request(target, [("Content-Type", "application/json"), ("X-Key", "v")], b"{}")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /hook%20path?x=1%202 HTTP/1.1",
        b"Host: example.org:8080",
        b"Content-Length: 2",
        b"Content-Type: application/json",
        b"X-Key: v",
    ]
    assert body == b"{}"


def test_framing_headers_cannot_be_overridden() -> None:
    target = parse_target("https://example.org/n")
    raw = encode_request(target, [("content-length", "999"), ("Host", "evil"), ("Connection", "x")], b"ab")
    assert raw.split(b"\r\n")[1:4] == [b"Host: example.org", b"Content-Length: 2", b""]


@pytest.mark.parametrize("header", [("Bad Name", "v"), ("X", "a\r\nInjected: 1"), ("", "v")])
def test_invalid_headers_are_refused(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="header"):
        encode_request(parse_target("http://example.org/"), [header], b"")


@pytest.mark.parametrize(
    ("uri", "origin", "host_header"),
    [
        ("http://h/", ("http", "h", 80), "h"),
        ("https://h:443/", ("https", "h", 443), "h"),
        ("HTTPS://[::1]:8443/x", ("https", "::1", 8443), "[::1]:8443"),
        ("http://bücher.example/", ("http", "xn--bcher-kva.example", 80), "xn--bcher-kva.example"),
    ],
)
def test_targets(uri: str, origin: tuple[str, str, int], host_header: str) -> None:
    target = parse_target(uri)
    assert target.origin == origin and target.host_header == host_header


@pytest.mark.parametrize("uri", ["mqtt://h/t", "http:///nohost", "http://h:99999/", "ftp://h/"])
def test_non_http_targets_are_refused(uri: str) -> None:
    with pytest.raises(UnsafeUrlError):
        parse_target(uri)
