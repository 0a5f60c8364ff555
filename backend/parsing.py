"""JSON and YAML from untrusted text, with bounds on nesting and size, and nothing storage cannot hold.

Python's parsers recurse once per nesting level: `[[[[...]]]]` a few thousand levels deep raises
RecursionError, and YAML aliases can make a small document expand to billions of values. They also accept
what is not text or not a number: a lone UTF-16 surrogate escape ("\\ud800") becomes a string that cannot be
encoded as UTF-8 (so neither stored nor answered), and json reads NaN and Infinity, which JSON does not
have. Every parser of user input goes through here (request bodies too, backend.api.middleware), so such a
document is a DocumentRefused naming what is wrong.
"""

import json
import re
from typing import Any, NoReturn

import yaml

# Far deeper than any experiment definition (4 levels) or benchmark record (2) needs.
MAX_NESTING = 32
# Values in one document, each YAML alias counted once per place it is used.
MAX_VALUES = 1_000_000


_SURROGATE = re.compile("[\ud800-\udfff]")


class DocumentRefused(ValueError):
    """A well-formed document that is refused all the same; the message is a predicate ("nested ...")."""


def _too_deep() -> DocumentRefused:
    return DocumentRefused(f"nested more than {MAX_NESTING} levels deep")


def _check_text(text: str) -> None:
    if not text.isascii() and (found := _SURROGATE.search(text)):
        raise DocumentRefused(
            f"holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), which is not a character "
            "(write the character itself)"
        )


def check_shape(document: Any) -> None:
    """Raise DocumentRefused if a parsed document nests too deeply, holds too many values, or holds a
    string (value or key) with a lone surrogate."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > MAX_NESTING:
            raise _too_deep()
        if seen > MAX_VALUES:
            raise DocumentRefused(f"more than {MAX_VALUES:,} values (counting YAML aliases where used)")
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    _check_text(key)
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)


def _not_a_number(literal: str) -> NoReturn:
    raise DocumentRefused(f"holds {literal}, which is not a JSON number")


def load_json(text: str) -> Any:
    """json.loads with the bounds above, refusing NaN and Infinity; json.JSONDecodeError for malformed
    text."""
    try:
        document = json.loads(text, parse_constant=_not_a_number)
    except RecursionError:
        raise _too_deep() from None
    check_shape(document)
    return document


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that stops composing past MAX_NESTING, before Python's recursion limit does."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise _too_deep()
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """yaml.safe_load with the bounds above; yaml.YAMLError for malformed text."""
    loader = _BoundedLoader(text)
    try:
        document = loader.get_single_data()
    finally:
        loader.dispose()
    check_shape(document)
    return document
