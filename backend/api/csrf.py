"""Cross-site request refusal for the cookie session: a page on another site must not change anything.

Browsers attach the SameSite=Lax session cookie to top-level cross-site POSTs of forms, and any site may
send a form to this server. So every state-changing request that relies on the cookie (or on a single
sign-on proxy) must come from this site: a foreign Origin or `Sec-Fetch-Site: cross-site` is refused.
Requests with `Authorization: Bearer` are exempt: a cross-site page cannot set that header without a CORS
preflight, which this server never grants.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.auth import UNSAFE_METHODS

_ONLY_OWN_PAGES = "changes must come from seedscope's own pages (or carry an API token)"


def cross_site_reason(headers: Headers) -> str | None:
    """Why this request must be refused as cross-site, or None if it comes from this site (or from a
    client that is not a browser, which sends neither header)."""
    if headers.get("sec-fetch-site") == "cross-site":
        return f"refused a cross-site request (Sec-Fetch-Site: cross-site): {_ONLY_OWN_PAGES}"
    origin = headers.get("origin")
    if origin is None:
        return None
    origin_host = urlsplit(origin).netloc if origin != "null" else ""
    if origin_host.lower() != headers.get("host", "").lower():
        return f"refused a request from another site (Origin {origin}): {_ONLY_OWN_PAGES}"
    return None


class CrossSiteGuard:
    """ASGI middleware: 403 for a state-changing, cookie-authenticated request from another site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = Headers(scope=scope)
            if not headers.get("authorization", "").lower().startswith("bearer "):
                reason = cross_site_reason(headers)
                if reason is not None:
                    await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
