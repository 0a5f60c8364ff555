"""A prompt as a benchmark format reads it, and the checks every format's prompts pass on the way to
records."""

from collections.abc import Iterable
from dataclasses import dataclass

from backend.catalog.files import DatasetFormatError, SeenIds
from backend.catalog.records import DEFAULT_CATEGORY, PromptRecord


@dataclass(frozen=True)
class PromptItem:
    """One prompt as read from a file, before validation; `where` locates it for error messages."""

    where: str
    external_id: str
    text: str
    category: str
    reference: str = ""


def positional_id(prefix: str, position: int) -> str:
    return f"{prefix}-{position:04d}"


def build_prompt_records(format: str, items: Iterable[PromptItem]) -> list[PromptRecord]:
    """Validate items (non-empty text and id, unique ids, at least one) and make records from them."""
    records: list[PromptRecord] = []
    ids = SeenIds(format)
    for item in items:
        text, external_id = item.text.strip(), item.external_id.strip()
        if not text:
            raise DatasetFormatError(format, "empty prompt", item.where)
        if not external_id:
            raise DatasetFormatError(format, "empty id", item.where)
        ids.add(external_id, item.where)
        category = item.category.strip() or DEFAULT_CATEGORY
        records.append(PromptRecord(external_id, text, category, item.reference.strip()))
    if not records:
        raise DatasetFormatError(format, "no prompts in the file")
    return records
