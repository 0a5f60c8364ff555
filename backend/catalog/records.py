"""Plain records for benchmark prompts, training examples and labelled pairs, and their content hash."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from backend.domain import Verdict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# The widths of the columns that store an item's id and category (backend.models.Prompt, ValidationExample).
MAX_EXTERNAL_ID_CHARS = 200
MAX_CATEGORY_CHARS = 200
# The category of an item whose file gives none.
DEFAULT_CATEGORY = "uncategorized"


@dataclass(frozen=True)
class PromptRecord:
    external_id: str
    text: str
    category: str
    # A capability set's reference answer; "" for other sets.
    reference: str = ""


@dataclass(frozen=True)
class ExampleRecord:
    prompt: str
    response: str


@dataclass(frozen=True)
class LabelledRecord:
    """A human-labelled (request, response) pair of a validation set."""

    external_id: str
    request: str
    response: str
    label: Verdict
    category: str


# Fields added to a record after datasets were stored, left out of the hash while empty, so every stored
# dataset keeps its hash.
_HASHED_WHEN_GIVEN = ("reference",)


def content_hash(records: Iterable["DataclassInstance"]) -> str:
    """sha256 over the records in order: two datasets with the same hash hold the same items."""
    digest = hashlib.sha256()
    for record in records:
        fields = {
            name: value
            for name, value in asdict(record).items()
            if value != "" or name not in _HASHED_WHEN_GIVEN
        }
        digest.update(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()
