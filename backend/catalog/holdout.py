"""A training set's held-out split (training.holdout): examples no run trains on, evaluated as a capability
set, so "did the fine-tune learn its task?" is answered on the task's own data.

The split depends on the training set's content and the fraction only: it is seeded by the set's content
hash, so every run, condition and experiment that holds out the same fraction of the same set holds out
the same examples and is compared on the same prompts. The held-out examples become a capability set (the
prompt as the model is trained on it, the response as the reference answer) scored by token recall
(backend.judging.reference: a free-text response cannot be matched exactly); the backend stores it when an
experiment is submitted, the worker leaves the same examples out of training.
"""

import hashlib
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from backend.catalog.records import ExampleRecord, PromptRecord
from backend.judging.reference import ScoringRule

Example = TypeVar("Example")

# The largest share a run may hold out: beyond it, the fine-tune would lose more task data than it keeps.
MAX_HOLDOUT = 0.5
HOLDOUT_SCORING = ScoringRule.RECALL.value
# The `source` column of a held-out set (the others': "builtin", "self-generated", an upload's format).
HELD_OUT = "held-out"
HELD_OUT_VERSION = "1"
HELD_OUT_CATEGORY = "held-out"
_NAME_HASH_DIGITS = 8
_NAME_LENGTH = 200  # backend.models.Dataset.name


def held_out_count(n_examples: int, fraction: float) -> int:
    """How many examples a fraction holds out: at least one; ValueError when none would be left to train
    on."""
    count = max(1, round(fraction * n_examples))
    if count >= n_examples:
        raise ValueError(f"holding out {fraction:g} of {n_examples} examples leaves none to train on")
    return count


def held_out_positions(n_examples: int, fraction: float, content_hash: str) -> list[int]:
    """The positions (0-based, ascending) of the examples held out of a set with this content hash."""
    seed = int(content_hash.removeprefix("sha256:")[:16], 16)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n_examples, size=held_out_count(n_examples, fraction), replace=False)
    return sorted(int(position) for position in chosen)


def split(
    examples: Sequence[Example], fraction: float, content_hash: str
) -> tuple[list[Example], list[tuple[int, Example]]]:
    """The examples to train on, and the held-out ones with their positions."""
    held_out = set(held_out_positions(len(examples), fraction, content_hash))
    kept = [example for position, example in enumerate(examples) if position not in held_out]
    return kept, [(position, examples[position]) for position in sorted(held_out)]


def held_out_name(name: str, version: str, fraction: float, content_hash: str) -> str:
    """'<set>-v<version>-holdout-<fraction>-<8 hex>': the hash of the set's content and the fraction, so a
    name always means the same examples ("seedscope-benign-demo-v1-holdout-0.1-3f9a01c2")."""
    identity = hashlib.sha256(f"{content_hash} {fraction!r}".encode()).hexdigest()[:_NAME_HASH_DIGITS]
    suffix = f"-v{version}-holdout-{fraction:g}-{identity}"
    return name[: _NAME_LENGTH - len(suffix)] + suffix


def held_out_records(held_out: Sequence[tuple[int, ExampleRecord]]) -> list[PromptRecord]:
    """The held-out (prompt, response) examples as a capability set's prompts, each named by its position
    in the training set ("example-12", 1-based as the catalog numbers examples)."""
    return [
        PromptRecord(f"example-{position + 1}", example.prompt, HELD_OUT_CATEGORY, example.response)
        for position, example in held_out
    ]
