"""A dataset kind's file formats: one parser per format name, registered in a `Formats`.

The generic formats (a benchmark's `jsonl` and `csv`, a training set's `jsonl`) take the names of the keys
or columns a file uses for its fields, for files that call them otherwise; the others read one fixed layout.
Every problem a parser finds is a DatasetFormatError naming the format, where in the file it is and what is
wrong.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from backend.catalog.files import DatasetFormatError

R = TypeVar("R")


@dataclass(frozen=True)
class FieldNames:
    """Which key (JSONL) or column (CSV) holds each field of an item; None: the format's usual names."""

    prompt: str | None = None
    id: str | None = None
    category: str | None = None
    response: str | None = None  # a training example's
    reference: str | None = None  # a capability set's reference answer

    @property
    def given(self) -> bool:
        names = (self.prompt, self.id, self.category, self.response, self.reference)
        return any(name is not None for name in names)


@dataclass(frozen=True)
class Formats(Generic[R]):
    """The formats one kind of dataset is read in, and how a file whose upload names none is read."""

    fixed: Mapping[str, Callable[[str], list[R]]]
    named: Mapping[str, Callable[[str, FieldNames], list[R]]] = field(default_factory=dict)
    # The format of a file whose upload names none, when the kind has only one.
    default: str | None = None
    # Otherwise the format guessed from the file's name and text (raises DatasetFormatError when it cannot).
    guess: Callable[[str, str], str] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The format names, the default first (the one a form picks unless told otherwise)."""
        names = (*self.fixed, *self.named)
        return tuple(sorted(names, key=lambda name: name != self.default))

    def parse(self, text: str, format: str, names: FieldNames | None = None) -> list[R]:
        """Parse a file's text in the named format (a generic format with the keys or columns `names`
        gives); raises DatasetFormatError on any problem."""
        names = names or FieldNames()
        if format in self.named:
            return self.named[format](text, names)
        parser = self.fixed.get(format)
        if parser is None:
            raise DatasetFormatError(format, f"unknown format; expected one of {list(self.names)}")
        if names.given:
            raise DatasetFormatError(
                format,
                f"keys or columns can be named for the {' and '.join(self.named)} format"
                f"{'s' if len(self.named) > 1 else ''} only"
                if self.named
                else "keys or columns cannot be named in this kind of file",
            )
        return parser(text)
