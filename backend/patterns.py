"""Regular expressions that users write (judge parse rules; capability scoring next), and the ones applied
to text users control, compiled with RE2.

Python's `re` backtracks: `^(a+)+$` on forty a's and a b runs for hours, and a judge's reply is text the
definition's author controls (they choose the endpoint). RE2 runs in time linear in the text and refuses
the constructs that need backtracking (backreferences, lookaround, possessive and atomic groups), so a
pattern either compiles here, with a message naming what is unsupported, or cannot hang whoever runs it.
Searched text is cut to MAX_SEARCHED_CHARS as well, which bounds the work per search outright.
"""

import functools
import re
from typing import Any

import re2

# Judge replies are a few hundred characters; the longest answer a judge may give (max_tokens 32,000)
# fits too.
MAX_SEARCHED_CHARS = 200_000
SYNTAX_URL = "https://github.com/google/re2/wiki/Syntax"

# RE2's error -> what the user wrote that it does not support.
_UNSUPPORTED = tuple(
    (re.compile(error), reason)
    for error, reason in (
        (r"invalid escape sequence: \\[1-9]", "backreferences (\\1, \\2, ...) are not supported"),
        (
            r"invalid escape sequence: \\k|invalid perl operator: \(\?P$",
            "named backreferences are not supported",
        ),
        (r"invalid escape sequence: \\Z", "\\Z is not supported: write \\z (the very end of the text)"),
        (r"invalid perl operator: \(\?[=!]", "lookahead ((?=...), (?!...)) is not supported"),
        (r"invalid perl operator: \(\?<[=!]", "lookbehind ((?<=...), (?<!...)) is not supported"),
        (r"invalid perl operator: \(\?>", "atomic groups ((?>...)) are not supported"),
        (r"invalid perl operator: \(\?\(", "conditionals ((?(1)...|...)) are not supported"),
        (
            r"bad repetition operator: (?:[*+?]|\{[^}]*\})\+",
            "possessive quantifiers (*+, ++, ?+) are not supported",
        ),
        (r"invalid repetition size", "a repetition count is over 1,000 (nested counts multiply)"),
        (r"pattern too large", "the pattern compiles to too large a program"),
    )
)


class UnsupportedPattern(ValueError):
    """A pattern RE2 cannot compile; the message says which construct, where one is to blame."""


def _explain(pattern: str, error: str) -> str:
    reason = next((text for found, text in _UNSUPPORTED if found.search(error)), None)
    if reason is None:
        return f"pattern {pattern!r} is not a regular expression: {error}"
    return (
        f"pattern {pattern!r} cannot be used: {reason}. Patterns run on RE2, a linear-time engine without "
        f"backtracking ({SYNTAX_URL})"
    )


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Any:
    """The compiled pattern; UnsupportedPattern, saying why, if RE2 cannot compile it."""
    options = re2.Options()
    options.log_errors = False  # the error comes back as an exception; RE2 would also print it
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        message = error.args[0].decode(errors="replace") if error.args else ""
        raise UnsupportedPattern(_explain(pattern, message)) from None


def searchable(text: str) -> str:
    """The part of `text` a pattern is searched in."""
    return text[:MAX_SEARCHED_CHARS]
