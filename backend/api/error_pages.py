"""Refusals of a page, as a page: a browser that opens a link it may not (a revoked share link, another
project's experiment) shows a sentence, not JSON. API routes keep their JSON errors."""

import html
from http import HTTPStatus
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse

TEMPLATE = (Path(__file__).resolve().parents[2] / "frontend" / "error.html").read_text(encoding="utf-8")


def wants_page(request: Request) -> bool:
    """A browser navigating to a page (not a script calling the API)."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_page(status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    title = f"{status} {HTTPStatus(status).phrase}"
    body = TEMPLATE.replace("{{title}}", html.escape(title)).replace("{{message}}", html.escape(message))
    return HTMLResponse(body, status_code=status, headers={**(headers or {}), "cache-control": "no-store"})
