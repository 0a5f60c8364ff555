"""What a request says about its client, believed only as far as the configured reverse proxies go."""

import ipaddress
from functools import lru_cache

from fastapi import Request

from backend.config import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(trusted_proxies: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False)
        for item in trusted_proxies.split(",")
        if item.strip()
    )


def _peer(request: Request) -> str:
    """The address of the TCP peer: the proxy itself when there is one (uvicorn runs without
    proxy_headers, so nothing has rewritten it)."""
    return request.client.host if request.client else ""


def from_trusted_proxy(request: Request, settings: Settings) -> bool:
    try:
        address = ipaddress.ip_address(_peer(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(settings.trusted_proxies))


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: the last hop a trusted proxy added to X-Forwarded-For, else the peer's."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and from_trusted_proxy(request, settings):
        return forwarded.split(",")[-1].strip()[:100]
    return _peer(request)[:100]


def is_https(request: Request, settings: Settings) -> bool:
    if request.url.scheme == "https":
        return True
    return from_trusted_proxy(request, settings) and request.headers.get("x-forwarded-proto") == "https"


def sso_email(request: Request, settings: Settings) -> str | None:
    """The user header set by a single-sign-on proxy, if configured and the request came through one."""
    if not settings.sso_header or not from_trusted_proxy(request, settings):
        return None
    value = request.headers.get(settings.sso_header, "").strip()
    return value or None
