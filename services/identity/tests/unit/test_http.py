"""Parsing proxied HTTP requests: headers, forms, cookies, limits; response cookies."""

from __future__ import annotations

import pytest
from cityos.identity.v1 import identity_pb2 as pb
from cityos_identity.oauth.http import MAX_BODY, BadHttpRequest, Request, Response


def _request(body: bytes = b"", query: str = "", **headers: str) -> Request:
    return Request.from_proto(
        pb.HttpRequest(
            method="post",
            path="/oauth2/token",
            query=query,
            body=body,
            headers=[pb.HttpHeader(name=k.replace("_", "-"), value=v) for k, v in headers.items()],
        )
    )


def test_headers_are_case_insensitive_and_repeated_ones_join() -> None:
    request = Request.from_proto(
        pb.HttpRequest(
            method="get",
            path="/x",
            headers=[
                pb.HttpHeader(name="Authorization", value="Basic abc"),
                pb.HttpHeader(name="X-Forwarded-For", value="1.1.1.1"),
                pb.HttpHeader(name="x-forwarded-for", value="2.2.2.2"),
            ],
        )
    )
    assert request.method == "GET"
    assert request.headers.get("authorization") == request.headers["AUTHORIZATION"] == "Basic abc"
    assert "Authorization" in request.headers and "Cookie" not in request.headers
    assert request.headers["X-Forwarded-For"] == "1.1.1.1, 2.2.2.2"


def test_form_is_read_only_for_form_content_type() -> None:
    form = _request(
        b"grant_type=client_credentials&scope=a+b",
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )
    assert form.form_value("grant_type") == "client_credentials" and form.form_value("scope") == "a b"
    json = _request(b'{"grant_type": "x"}', content_type="application/json")
    assert json.form == []


def test_query_and_param_precedence() -> None:
    request = _request(
        b"state=form", query="state=query&x=1", content_type="application/x-www-form-urlencoded"
    )
    assert (
        request.query_value("state") == "query"
        and request.param("state") == "form"
        and request.param("x") == "1"
    )


def test_cookies() -> None:
    request = _request(cookie="cityos_session=abc; cityos_csrf=def")
    assert request.cookies == {"cityos_session": "abc", "cityos_csrf": "def"}
    assert _request(cookie='bad="unterminated').cookies == {}


def test_limits() -> None:
    with pytest.raises(BadHttpRequest):
        _request(b"x" * (MAX_BODY + 1), content_type="application/x-www-form-urlencoded")
    with pytest.raises(BadHttpRequest):
        _request(b"\xff\xfe", content_type="application/x-www-form-urlencoded")
    with pytest.raises(BadHttpRequest):
        _request(query="&".join(f"a{i}=1" for i in range(500)))


def test_response_cookies() -> None:
    response = Response(200)
    response.set_cookie("cityos_session", "v", max_age=60, secure=True)
    response.set_cookie("cityos_csrf", "w", max_age=0, secure=False)
    cookies = [v for k, v in response.headers if k == "Set-Cookie"]
    assert cookies[0] == "cityos_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    assert cookies[1] == "cityos_csrf=w; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    proto = response.to_proto()
    assert proto.status == 200 and len(proto.headers) == 2
