"""Plain records for benchmark prompts and training examples, and their content hash."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

# The widths of the columns that store a prompt's id and category (backend.models.Prompt).
MAX_EXTERNAL_ID_CHARS = 200
MAX_CATEGORY_CHARS = 200


@dataclass(frozen=True)
class PromptRecord:
    external_id: str
    text: str
    category: str


@dataclass(frozen=True)
class ExampleRecord:
    prompt: str
    response: str


def content_hash(records: Iterable[PromptRecord] | Iterable[ExampleRecord]) -> str:
    """sha256 over the records in order: two datasets with the same hash hold the same items."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(asdict(record), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()
