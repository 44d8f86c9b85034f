"""The HTML pages a browser sees: login, consent, errors and signed-out (no scripts, no external assets)."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;"
    "padding:.5rem;box-sizing:border-box}button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}"
    ".error{color:#a00}.scopes li{margin:.2rem 0}"
)
SCOPE_TEXT = {
    "openid": "Sign you in with your City OS ID",
    "profile": "Read your name",
    "email": "Read your e-mail address",
    "offline_access": "Stay signed in (refresh tokens)",
    "entities:read": "Read city data",
    "entities:write": "Change city data",
    "subscriptions": "Subscribe to data changes",
    "assets": "Manage assets and devices",
    "catalog": "Use the service catalogue",
    "connectors": "Manage data connectors",
    "admin": "Administer the tenant",
}


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def login_page(*, action: str, csrf: str, client_name: str, username: str = "", error: str = "") -> str:
    """The sign-in form; `action` is the authorize URL with the original query string."""
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page(
        "Sign in - City OS",
        f"<h1>Sign in</h1><p>to continue to <strong>{escape(client_name)}</strong></p>{message}"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        '<input type="hidden" name="action" value="login">'
        f'<label for="username">Username</label><input type="text" id="username" name="username" '
        f'value="{escape(username)}" autocomplete="username" required autofocus>'
        '<label for="password">Password</label><input type="password" id="password" name="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form>',
    )


def consent_page(
    *, action: str, csrf: str, client_name: str, tenant: str, user: str, scopes: list[str]
) -> str:
    """The consent screen listing what the client asks for."""
    items = "".join(f"<li>{escape(SCOPE_TEXT.get(s, s))} <code>{escape(s)}</code></li>" for s in scopes)
    return _page(
        "Allow access - City OS",
        f"<h1>Allow access?</h1><p><strong>{escape(client_name)}</strong> (tenant "
        f"<code>{escape(tenant)}</code>) asks to act for <strong>{escape(user)}</strong>:</p>"
        f'<ul class="scopes">{items}</ul>'
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf)}">'
        '<input type="hidden" name="action" value="consent">'
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>',
    )


def error_page(title: str, detail: str) -> str:
    return _page(f"{title} - City OS", f"<h1>{escape(title)}</h1><p>{escape(detail)}</p>")


def signed_out_page() -> str:
    return _page("Signed out - City OS", "<h1>Signed out</h1><p>You have been signed out of the City OS.</p>")
