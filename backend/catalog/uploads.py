"""An uploaded dataset file, and the configured bounds on it (Settings.max_upload_*): checked in one pass
over the text before any parser runs, and on what the file held once parsed. Each refusal names its
setting."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from backend.catalog.files import csv_header
from backend.catalog.formats import FieldNames
from backend.config import Settings
from backend.errors import PayloadTooLarge
from backend.limits import enforce


@dataclass(frozen=True)
class DatasetFile:
    """A dataset file as uploaded, with what its upload says about it."""

    name: str
    version: str
    text: str
    description: str = ""
    # None: the kind's only format, or one guessed from `filename`.
    format: str | None = None
    filename: str | None = None
    # Where the generic formats find the item's fields, when the file names them otherwise.
    names: FieldNames = field(default_factory=FieldNames)
    # Values of the columns the kind adds to its datasets' rows (a validation set's `measures`).
    attributes: Mapping[str, str] = field(default_factory=dict)


def check_file(settings: Settings, what: str, text: str, *, csv: bool) -> None:
    """The file's size in bytes, for CSV its header's columns, and its longest line (as the JSONL reader
    splits lines). `what` names the file in messages ("the benchmark file")."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"the size of {what} in bytes", size, settings.max_upload_bytes, "max_upload_bytes"
        )
    if csv:
        enforce(settings, "max_upload_columns", len(csv_header(text)), f"the number of columns of {what}")
    number, longest = max(enumerate(map(len, text.split("\n")), start=1), key=lambda line: line[1])
    enforce(
        settings, "max_upload_line_chars", longest, f"the length of line {number} of {what} in characters"
    )


def check_items(settings: Settings, what: str, count: int) -> None:
    """How many items (prompts, examples, labelled pairs) the file held: `what` names them."""
    enforce(settings, "max_upload_items", count, f"the number of {what} in the file")
