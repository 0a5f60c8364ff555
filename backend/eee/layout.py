"""Where an EEE record goes and what it is called: the datastore's data/<benchmark>/<developer>/<model>/
folder, <uuid>.json for the aggregate record and <uuid>_samples.jsonl beside it for its instance records (the
layout every-eval-ever's README prescribes and its validator checks)."""

import hashlib
import re
import uuid
from dataclasses import dataclass

_NOT_PORTABLE = re.compile(r"[^A-Za-z0-9._-]+")
# The datastore's root folder may not be reused below it.
_RESERVED = {"data"}


def component(name: str) -> str:
    """A portable folder name: any run of characters other than letters, digits, '.', '_', '-' becomes '-'."""
    cleaned = _NOT_PORTABLE.sub("-", name).strip("-. ")
    if cleaned.lower() in _RESERVED:
        cleaned += "-set"
    return cleaned or "unnamed"


def model_id(base_model: str, experiment_id: int, condition: str, is_baseline: bool) -> str:
    """The baseline is the base model itself; a fine-tuned condition is a model of its own (its seeds'
    adapters on that base), named after it in the HuggingFace "developer/model" form."""
    base = base_model.strip("/")
    if is_baseline:
        return base
    return f"{base}-seedscope-e{experiment_id}-{component(condition)}"


def record_uuid(experiment_id: int, condition_id: int, benchmark_id: int) -> str:
    """A version-4-shaped UUID derived from the record's identity: exporting again names the same files,
    so a newer export replaces an older one instead of sitting beside it."""
    digest = hashlib.sha256(f"seedscope/{experiment_id}/{condition_id}/{benchmark_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True)
class RecordPlace:
    folder: str
    uuid: str

    @property
    def aggregate_path(self) -> str:
        return f"{self.folder}/{self.uuid}.json"

    @property
    def samples_path(self) -> str:
        return f"{self.folder}/{self.uuid}_samples.jsonl"


def place(benchmark: str, model: str, record: str) -> RecordPlace:
    """The record's folder: a flat model id (a local model's name) has no developer: "local" stands in."""
    parts = [part for part in model.split("/") if part]
    developer, name = (parts[0], "_".join(parts[1:])) if len(parts) > 1 else ("local", parts[0])
    return RecordPlace(f"data/{component(benchmark)}/{component(developer)}/{component(name)}", record)
