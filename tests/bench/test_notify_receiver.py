"""The notification receiver's request parsing and matching (bytes and calls only, no sockets)."""

import pytest

from loadtests.bench.http1 import HttpParseError
from loadtests.bench.notify import NotificationReceiver, _take_request

BODY = (
    b'{"type":"Notification","data":[{"id":"urn:a","seq":7},{"id":"urn:b","seq":{"value":8}},{"id":"urn:c"}]}'
)


def test_content_length_requests_are_taken_one_at_a_time():
    buf = bytearray(
        b"POST /subscriber/1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST /x HTTP/1.1\r\nContent-Le"
    )
    assert _take_request(buf) == ("/subscriber/1", b"{}")
    assert _take_request(buf) is None
    buf += b"ngth: 0\r\n\r\n"
    assert _take_request(buf) == ("/x", b"")
    assert buf == bytearray()


def test_chunked_requests_are_reassembled():
    buf = bytearray(b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert _take_request(buf) == ("/s", b"abcde")
    incomplete = bytearray(b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
    assert _take_request(incomplete) is None


def test_a_malformed_request_line_raises():
    with pytest.raises(HttpParseError):
        _take_request(bytearray(b"NONSENSE\r\n\r\n"))


def test_notifications_are_matched_to_the_update_that_caused_them():
    receiver = NotificationReceiver()
    receiver.sent[7] = 0.0
    receiver.sent[8] = 0.0
    receiver.record("/subscriber/0", BODY)
    receiver.record("/subscriber/1", b"not json")
    assert len(receiver.latencies_ms) == 2  # keyValues and normalized `seq` both match
    assert receiver.unmatched == 1  # the entity without a seq
    assert receiver.malformed == 1
    assert receiver.paths == {"/subscriber/0": 1, "/subscriber/1": 1}
