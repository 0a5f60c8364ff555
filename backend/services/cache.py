"""Memo of analysis results, keyed by what they were computed from.

An experiment's statistics change only when a run's status, some judge's verdict counts or the validation
that corrects a judge's rates (backend.services.corrected_rates) change. The API reads the runs, the first
judge's counts and the judges' best validations on every request anyway (ExperimentRead); the other judges'
counts (for agreement and the per-judge views) cost one grouped query on prompt_cells. Keyed by them all, a
cached result is never stale: a new judgment by any judge, or a judge's new best validation, changes the
key. Finished experiments, the common case on a dashboard, hit every time.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from backend.api_models.experiments import ExperimentRead

Value = TypeVar("Value")


def experiment_state(experiment: ExperimentRead, other_judges: Hashable = ()) -> Hashable:
    """Everything the statistics depend on: each run's status and its first judge's counts, the validation
    each judge's (and each scored set's scorer's) rates are corrected with, and `other_judges`, the other
    judges' counts per run."""
    runs = tuple(
        (
            run.id,
            run.status.value,
            *((run.rate.harmful, run.rate.safe, run.rate.unscored, run.rate.incoherent) if run.rate else ()),
        )
        for run in experiment.runs
    )
    validations = (
        *((j.id, j.validation.id if j.validation else None) for j in experiment.judges),
        *(
            (b.scorer_id, b.scorer_validation.id if b.scorer_validation else None)
            for b in experiment.benchmarks
            if b.scorer_id is not None
        ),
    )
    return runs, validations, other_judges


class AnalysisCache:
    """A bounded, thread-safe least-recently-used memo (the API serves requests from a thread pool)."""

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()  # outside the lock: two threads may compute the same value once each
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value
