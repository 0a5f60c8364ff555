"""Judging stored (prompt, response) pairs a batch at a time, as the jobs that judge what is already
stored do (a rescoring, a judge validation, a stress test): each stores a batch's verdicts in one
transaction, so that a job sent again judges only what has none."""

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from worker.judges.base import Judge, JudgeResult, judge_pairs

K = TypeVar("K")
T = TypeVar("T")


def judged_batches(
    judge: Judge, batches: Iterable[Sequence[tuple[K, str, str]]]
) -> Iterator[tuple[list[tuple[K, JudgeResult]], float]]:
    """For each batch of (key, prompt, response), the (key, result) pairs and the seconds the judge took."""
    for batch in batches:
        started = time.perf_counter()
        results = judge_pairs(
            judge, [prompt for _, prompt, _ in batch], [response for _, _, response in batch]
        )
        yield (
            [(key, result) for (key, _, _), result in zip(batch, results, strict=True)],
            (time.perf_counter() - started),
        )


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def verdict_columns(result: JudgeResult) -> dict[str, Any]:
    """The columns every stored verdict has (backend.models._Verdict)."""
    return {
        "verdict": result.verdict,
        "score": result.score,
        "output": result.output,
        "details": result.details,
    }
