"""The load generator's HTTP/1.1 codec, fed bytes directly (no sockets)."""

import pytest

from loadtests.bench.http1 import HttpParseError, ResponseParser, encode_request

SIMPLE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n"
)


def feed_in_pieces(data: bytes, size: int) -> list:
    parser = ResponseParser()
    done = []
    for start in range(0, len(data), size):
        done.extend(parser.feed(data[start : start + size]))
    return done


def test_content_length_body_and_lower_cased_headers():
    [response] = ResponseParser().feed(SIMPLE)
    assert response.status == 200
    assert response.body == b'{"a":1}'
    assert response.header("CONTENT-TYPE") == "application/json"
    assert response.header("x-missing") is None
    assert response.keep_alive


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_split_of_the_bytes_gives_the_same_responses(size):
    responses = feed_in_pieces(SIMPLE + CHUNKED + SIMPLE, size)
    assert [r.body for r in responses] == [b'{"a":1}', b"Wikipedia in\r\n\r\nchunks.", b'{"a":1}']


def test_chunked_body_with_extensions_and_trailers():
    [response] = ResponseParser().feed(CHUNKED)
    assert response.body == b"Wikipedia in\r\n\r\nchunks."
    assert response.keep_alive


def test_incomplete_body_waits_for_more_bytes():
    parser = ResponseParser()
    assert parser.feed(SIMPLE[:-3]) == []
    assert [r.body for r in parser.feed(SIMPLE[-3:])] == [b'{"a":1}']


def test_no_body_statuses_ignore_content_length_and_pipeline():
    data = b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n" + SIMPLE
    first, second = ResponseParser().feed(data)
    assert (first.status, first.body) == (204, b"")
    assert second.status == 200


def test_interim_100_continue_is_skipped():
    [response] = ResponseParser().feed(b"HTTP/1.1 100 Continue\r\n\r\n" + SIMPLE)
    assert response.status == 200


def test_body_until_close_completes_on_eof():
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\npartial ") == []
    assert parser.feed(b"body") == []
    response = parser.feed_eof()
    assert response is not None
    assert (response.body, response.keep_alive) == (b"partial body", False)


def test_eof_between_responses_is_clean():
    parser = ResponseParser()
    parser.feed(SIMPLE)
    assert parser.feed_eof() is None


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
    ],
)
def test_keep_alive_follows_version_and_connection_header(head, keep_alive):
    [response] = ResponseParser().feed(head)
    assert response.keep_alive is keep_alive


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno-colon-here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    ],
)
def test_malformed_responses_raise(data):
    with pytest.raises(HttpParseError):
        ResponseParser().feed(data)


def test_eof_inside_a_body_raises():
    parser = ResponseParser()
    parser.feed(SIMPLE[:-2])
    with pytest.raises(HttpParseError):
        parser.feed_eof()


def test_oversized_head_raises():
    with pytest.raises(HttpParseError):
        ResponseParser(max_head_bytes=16).feed(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 64)


def test_encode_request_sets_length_for_bodies_only():
    get = encode_request("GET", "/x?y=1", "127.0.0.1:80", [("Accept", "application/json")])
    assert get == b"GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nAccept: application/json\r\n\r\n"
    post = encode_request("POST", "/x", "h", body=b"[]")
    assert post.endswith(b"Content-Length: 2\r\n\r\n[]")
    assert b"Content-Length: 0" in encode_request("PATCH", "/x", "h")
