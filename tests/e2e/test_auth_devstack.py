"""What `cityos-dev run` prints about authentication works as printed: the client-credentials token request,
the query with the token (own tenant and, through sharing, the municipalities), and the browser login URL
for the demo resident."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from cityos_devtools.oauth import form_of


def _printed(stack: Any, pattern: str) -> re.Match[str]:
    found = re.search(pattern, stack.output())
    assert found, f"not printed: {pattern}\n{stack.output()}"
    return found


def test_the_printed_client_credentials_command_gives_a_working_token(stack: Any) -> None:
    line = _printed(stack, r"TOKEN=\$\((curl [^|]+)\|").group(1)
    argv = shlex.split(line)
    credentials, token_url = argv[argv.index("-u") + 1], argv[-1]
    assert token_url == f"{stack.gateway_url}/oauth2/token"
    client_id, _, secret = credentials.partition(":")
    reply = httpx.post(token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    api = f"{stack.gateway_url}/ngsi-ld/v1/entities"
    bearer = {"Authorization": f"Bearer {token}"}
    own = httpx.get(api, params={"type": "WaterLevelGauge"}, headers={**bearer, "NGSILD-Tenant": "hokkaido"})
    assert [e["id"] for e in own.json()] == ["urn:ngsi-ld:WaterLevelGauge:hokkaido-ishikari-01"]
    shared = httpx.get(
        api, params={"type": "WaterLevelGauge"}, headers={**bearer, "NGSILD-Tenant": "sapporo"}
    )
    assert shared.status_code == 200 and len(shared.json()) == 4
    written = httpx.post(
        api,
        json={"id": "urn:ngsi-ld:WaterLevelGauge:e2e-auth", "type": "WaterLevelGauge"},
        headers={**bearer, "NGSILD-Tenant": "sapporo"},
    )
    assert written.status_code == 403, "sharing grants read access only"


def test_the_printed_browser_login_signs_the_demo_resident_in(stack: Any) -> None:
    url = _printed(stack, r"(http://\S+/oauth2/authorize\?\S+)").group(1)
    username, password = _printed(stack, r"user (\S+), password (\S+)").groups()
    with httpx.Client(timeout=15.0) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and 'name="username"' in page.text
        action, fields = form_of(page.text)
        page = browser.post(urljoin(url, action), data={**fields, "username": username, "password": password})
        if page.status_code == 200:
            action, fields = form_of(page.text)
            page = browser.post(urljoin(url, action), data={**fields, "decision": "allow"})
    assert page.status_code == 302, page.text
    location = urlsplit(page.headers["location"])
    assert location.path == "/demo/callback"
    assert parse_qs(location.query)["code"]
