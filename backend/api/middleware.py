"""What every request passes through before a route: the Host allowlist, the body size limit, strict JSON
bodies, and the security headers on every response. Plain ASGI, so they also cover static files and error
responses."""

import json
from collections.abc import Iterable

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.config import env_name
from backend.errors import PayloadTooLarge
from backend.parsing import DocumentRefused, load_json

# Scripts only from this origin (no inline script, no eval), no framing, no plugins. Plotly.js and
# Swagger UI set inline styles, hence 'unsafe-inline' for styles only; images may be data: URLs (Plotly's
# PNG export, Swagger UI's icons).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Links to other sites carry no URL of ours (share links will hold tokens).
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def host_name(host_header: str) -> str:
    """The name in a Host header, without the port: "[::1]:8000" -> "::1", "Example.org." -> "example.org"."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class HostAllowlist:
    """Answer 400 to a request whose Host header names none of the allowed hosts (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = [host for host in allowed_hosts if host.strip()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if host_allowed(host_name(host), self.allowed):
            await self.app(scope, receive, send)
            return
        detail = (
            f"host {host!r} is not one this server answers to ({', '.join(self.allowed)}); "
            f"add it to {env_name('allowed_hosts')} (comma-separated) if it is yours"
        )
        await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)


class NoNulInUrl:
    """Answer 400 to a URL holding a NUL character (%00): no field accepts one, and PostgreSQL cannot even
    compare text with it, so the same query would fail there and match nothing on SQLite."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
            if b"%00" in raw or b"\x00" in raw or "\x00" in scope.get("path", ""):
                detail = "the URL contains a NUL character (%00), which no parameter accepts"
                await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse request bodies over `limit` bytes with 413: by Content-Length up front, else while reading."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _error(self, size: int, what: str = "the request body (bytes)") -> PayloadTooLarge:
        return PayloadTooLarge(what, size, self.limit, "max_request_bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            error = self._error(int(declared))
            await JSONResponse({"detail": str(error)}, status_code=error.status_code)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged (anything else
                    # there becomes a generic 400).
                    error = self._error(received, "the request body (bytes read so far)")
                    raise HTTPException(status_code=error.status_code, detail=str(error))
            return message

        await self.app(scope, limited_receive, send)


def is_json(media_type: str) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON (application/json, application/*+json)."""
    main, _, sub = media_type.split(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def json_body_problem(body: bytes) -> str | None:
    """Why a JSON request body cannot be accepted, or None: it must be UTF-8 JSON (RFC 8259) without
    NaN/Infinity, lone surrogates or nesting past backend.parsing's bounds."""
    try:
        load_json(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        return f"it is not UTF-8 (byte {error.start})"
    except json.JSONDecodeError as error:
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    except DocumentRefused as error:
        return f"it {error}"
    return None


class StrictJsonBodies:
    """Answer 422 to a JSON body that is not strict JSON, before any route reads it.

    FastAPI parses bodies with Python's json module, which accepts NaN, Infinity and lone UTF-16 surrogate
    escapes: values that then fail where they are stored, compared or written back (500s). Checking here
    covers every route at once. The answer has the shape of FastAPI's own for malformed JSON.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(Headers(scope=scope).get("content-type", "")):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except HTTPException as refused:  # BodySizeLimit's, raised while reading
            await JSONResponse({"detail": refused.detail}, status_code=refused.status_code)(
                scope, receive, send
            )
            return
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        problem = json_body_problem(body) if body else None
        if problem is not None:
            error = {
                "type": "json_invalid",
                "loc": ["body"],
                "msg": f"the body is not valid JSON: {problem}",
                "input": {},
                "ctx": {"error": problem},
            }
            await JSONResponse({"detail": [error]}, status_code=422)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """Add the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
