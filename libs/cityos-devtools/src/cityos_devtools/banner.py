"""What `cityos-dev run` prints once the stack is ready: where it runs and two queries to paste."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from cityos_devtools.access_seed import DemoAccess

API_PATH = "/ngsi-ld/v1"
_EXTRACT_TOKEN = """python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'"""  # noqa: S105 - a shell snippet, not a secret


@dataclass(frozen=True)
class ExampleQuery:
    """A ready-to-run NGSI-LD query against the seeded demo data."""

    description: str
    url: str
    tenant: str

    def curl(self) -> str:
        """The query as a shell-safe curl command."""
        return f"curl -sS {shlex.quote(self.url)} -H {shlex.quote('NGSILD-Tenant: ' + self.tenant)}"


def _entities_url(gateway_url: str, params: dict[str, str]) -> str:
    # quote (not quote_plus) with safe="" so ; = [ ] , > are all percent-encoded for every shell and client.
    return f"{gateway_url}{API_PATH}/entities?{urlencode(params, quote_via=quote, safe='')}"


def example_queries(gateway_url: str) -> list[ExampleQuery]:
    """A q filter and a geo-query over the seeded Sapporo data."""
    return [
        ExampleQuery(
            "river gauges above 2 m",
            _entities_url(gateway_url, {"type": "WaterLevelGauge", "q": "waterLevel>2.0"}),
            "sapporo",
        ),
        ExampleQuery(
            "gauges and shelters within 2 km of Sapporo Station's south side",
            _entities_url(
                gateway_url,
                {
                    "type": "WaterLevelGauge,EvacuationShelter",
                    "georel": "near;maxDistance==2000",
                    "geometry": "Point",
                    "coordinates": "[141.35,43.06]",
                },
            ),
            "sapporo",
        ),
    ]


def login_url(gateway_url: str, access: DemoAccess) -> str:
    """The authorize URL a browser opens to sign the demo resident in (code flow; PKCE is the app's job,
    so this URL is for trying the login and consent pages)."""
    params = {
        "response_type": "code",
        "client_id": access.public_client_id,
        "redirect_uri": access.redirect_uri,
        "scope": "openid profile entities:read",
        "state": "demo",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{gateway_url}/oauth2/authorize?{urlencode(params, quote_via=quote, safe='')}"


def _auth_lines(gateway_url: str, auth_mode: str, access: DemoAccess | None) -> list[str]:
    if auth_mode == "open":
        return ["", "AUTHENTICATION IS OFF (--auth open): every caller may read and write every tenant."]
    if access is None:
        return ["", "Authentication: OIDC (tokens from the identity service; seed for a demo client)."]
    token_cmd = (
        f"curl -sS -u {shlex.quote(access.backend_client_id + ':' + access.backend_client_secret)} "
        f"-d grant_type=client_credentials {shlex.quote(gateway_url + '/oauth2/token')}"
    )
    query = shlex.quote(f"{gateway_url}{API_PATH}/entities?type=WaterLevelGauge")
    return [
        "",
        "Authentication: OIDC. Gauges and shelters are public open data; everything else needs a token.",
        "  # a token for the demo backend client (tenant hokkaido; reads sapporo and otaru through sharing):",
        f"  TOKEN=$({token_cmd} | {_EXTRACT_TOKEN})",
        f"  curl -sS -H \"Authorization: Bearer $TOKEN\" -H 'NGSILD-Tenant: hokkaido' {query}",
        "  # sign in with a browser (the redirect ends on a missing page; its URL holds the code):",
        f"  {login_url(gateway_url, access)}",
        f"  user {access.resident_username}, password {access.resident_password}",
        f"  OpenID configuration: {gateway_url}/.well-known/openid-configuration",
    ]


def render_banner(
    gateway_url: str,
    data_dir: Path,
    log_files: list[Path],
    stores: list[str],
    auth_mode: str = "oidc",
    access: DemoAccess | None = None,
) -> str:
    """The ready message: URLs, data and log locations, example commands, how to authenticate."""
    lines = [
        "",
        f"City OS is running: {gateway_url}  (NGSI-LD API {gateway_url}{API_PATH}, auth mode: {auth_mode})",
        f"  data folder: {data_dir}",
        *(f"  {store}" for store in stores),
        "  logs:",
        *(f"    {path}" for path in log_files),
        "",
        "Try the demo data (tenants: hokkaido, sapporo, otaru):",
    ]
    for example in example_queries(gateway_url):
        lines += [f"  # {example.description}", f"  {example.curl()}"]
    lines += _auth_lines(gateway_url, auth_mode, access)
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)
