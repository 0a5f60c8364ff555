"""JSON and YAML from untrusted text, with bounds on nesting and size.

Python's parsers recurse once per nesting level: `[[[[...]]]]` a few thousand levels deep raises
RecursionError, and YAML aliases can make a small document expand to billions of values. Every parser of
user input goes through here, so such a document is a DocumentTooComplex naming the limit.
"""

import json
from typing import Any

import yaml

# Far deeper than any experiment definition (4 levels) or benchmark record (2) needs.
MAX_NESTING = 32
# Values in one document, each YAML alias counted once per place it is used.
MAX_VALUES = 1_000_000


class DocumentTooComplex(ValueError):
    pass


def _too_deep() -> DocumentTooComplex:
    return DocumentTooComplex(f"nested more than {MAX_NESTING} levels deep")


def check_shape(document: Any) -> None:
    """Raise DocumentTooComplex if a parsed document nests too deeply or holds too many values."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > MAX_NESTING:
            raise _too_deep()
        if seen > MAX_VALUES:
            raise DocumentTooComplex(f"more than {MAX_VALUES:,} values (counting YAML aliases where used)")
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)


def load_json(text: str) -> Any:
    """json.loads with the bounds above; json.JSONDecodeError for malformed text."""
    try:
        document = json.loads(text)
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
