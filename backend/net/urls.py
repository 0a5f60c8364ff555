"""HTTP(S) URLs that users give, parsed strictly into one normal form.

Parsers disagree on odd URLs (a backslash, an encoded slash, "127.1", a user name before the host), and a
check made by one parser is worthless if another decides where the request goes. So anything odd is
refused, and what is accepted is written back in a form every parser reads alike: a lower-case scheme and
host, an IPv4 address in dotted-quad form, the path's percent-encoding decoded and its dot-segments
resolved, no user information, no query, no fragment. Checks (the allow-lists, the address rules) look at
the parsed form, and the request goes to the URL written from it.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from backend.net.addresses import IPAddress

DEFAULT_PORTS = {"http": 80, "https": 443}
# What a path segment may hold once decoded: RFC 3986's unreserved characters, sub-delimiters, ":" and "@".
_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A host whose last label is a number is an IPv4 address to browsers and to inet_aton ("127.1", "0x7f.1",
# "2130706433"), so it is read as one.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")


class InvalidUrl(ValueError):
    """The URL is malformed or uses something refused here; the message says what."""


@dataclass(frozen=True)
class HttpUrl:
    scheme: str  # "http" or "https"
    host: str  # a lower-case name, or an IP address in its normal form (IPv6 without brackets)
    port: int | None  # as given; None: the scheme's default
    segments: tuple[str, ...]  # the path's segments, decoded, with dot-segments resolved

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def address(self) -> IPAddress | None:
        """The host as an IP address, if it is one."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}" + "".join(f"/{segment}" for segment in self.segments)

    def is_under(self, prefix: "HttpUrl") -> bool:
        """Whether this URL is `prefix` or below it, segment by segment (so /v1 is not under /v)."""
        return (self.scheme, self.host, self.effective_port) == (
            prefix.scheme,
            prefix.host,
            prefix.effective_port,
        ) and self.segments[: len(prefix.segments)] == prefix.segments


def _host(text: str) -> str:
    if text.startswith("["):
        try:
            if "%" in text:
                raise ValueError("a zone id")
            return str(ipaddress.IPv6Address(text[1:-1]))
        except ValueError:
            raise InvalidUrl(f"{text} is not an IPv6 address (zone ids are not accepted)") from None
    name = text.lower().removesuffix(".")
    if not name:
        raise InvalidUrl("the URL has no host")
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(socket.inet_aton(name)))
        except OSError:
            raise InvalidUrl(f"host {text!r} is not a valid IPv4 address") from None
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidUrl(
            f"host {text!r} is not a host name (letters, digits and hyphens, in dot-separated labels; "
            "write an international name in its xn-- form)"
        )
    return name


def _authority(text: str) -> tuple[str, int | None]:
    if "@" in text:
        raise InvalidUrl(
            "the URL holds user information (user:password@); API keys come from the environment"
        )
    host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host, port = text, ""
    if colon and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise InvalidUrl(f"port {port!r} is not a number from 1 to 65535")
    return _host(host), int(port) if colon else None


def _segments(path: str) -> tuple[str, ...]:
    if _PERCENT.search(path):
        raise InvalidUrl("the path has a % that does not start a %XX escape")
    resolved: list[str] = []
    for raw in path.split("/"):
        try:
            segment = unquote_to_bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidUrl(f"path segment {raw!r} decodes to non-ASCII text") from None
        if not _SEGMENT.fullmatch(segment):
            raise InvalidUrl(
                f"path segment {raw!r} holds a character a path may not (after decoding: {segment!r})"
            )
        if segment in ("", "."):
            continue
        if segment == "..":
            if not resolved:
                raise InvalidUrl("the path goes above the root with '..'")
            resolved.pop()
            continue
        resolved.append(segment)
    return tuple(resolved)


def parse_http_url(text: str) -> HttpUrl:
    """The URL in its normal form; InvalidUrl says what is wrong or refused."""
    text = text.strip()
    if not text.isascii() or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in text):
        raise InvalidUrl("the URL holds spaces, control characters or non-ASCII characters")
    for char, part in (("?", "a query (?...)"), ("#", "a fragment (#...)"), ("\\", "a backslash")):
        if char in text:
            raise InvalidUrl(f"the URL holds {part}, which is not accepted")
    scheme, separator, rest = text.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise InvalidUrl(f"{text!r} must be an http:// or https:// URL")
    authority, slash, path = rest.partition("/")
    host, port = _authority(authority)
    return HttpUrl(scheme, host, port, _segments(path) if slash else ())


def normalize_url(text: str) -> str:
    """The URL written in its normal form (InvalidUrl if it has none)."""
    return str(parse_http_url(text))
