"""Where a `next` parameter may send a browser: a path on this site, never another site.

A browser reads more URLs as "another site" than a plain check for "//" catches: it turns a backslash into
a slash ("/\\evil.example" is "//evil.example"), drops tabs and newlines anywhere ("/\\t/evil.example"),
and a page that decodes the value once more turns "/%2F%2Fevil.example" into "///evil.example". So the rule
is checked on the value and on each percent-decoding of it; the page's JavaScript applies the same rule
(see docs/teams.md, single sign-on).
"""

from urllib.parse import unquote

MAX_NEXT_LENGTH = 2000
# Percent-decodings checked: a value still encoded after this many is refused.
_DECODINGS = 3


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value[1:2] in ("/", "\\"):
        return False
    return "\\" not in value and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)


def same_site_path(candidate: str | None, fallback: str = "/") -> str:
    """`candidate` if it is a path on this site, else `fallback`.

    The rule: at most 2,000 characters; it starts with one "/" (not "//" or "/\\"); it holds no backslash
    and no control character (U+0000-U+001F, U+007F); and all of that still holds after each of up to
    three percent-decodings (a value that still changes on the third is refused).
    """
    if not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return fallback
    value = candidate
    for _ in range(_DECODINGS):
        if not _is_local_path(value):
            return fallback
        decoded = unquote(value)
        if decoded == value:
            return candidate
        value = decoded
    return fallback
