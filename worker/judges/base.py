"""What every judge takes and returns."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from backend.domain import Verdict


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict
    # A judge's own graded score where it has one (e.g. the relevance similarity); None otherwise.
    score: float | None
    # Why: shown next to the verdict in the dashboard.
    output: str


class Judge(Protocol):
    name: str
    version: str

    def judge_batch(self, prompts: Sequence[str], responses: Sequence[str]) -> list[JudgeResult]:
        """One result per (prompt, response) pair, in order."""
        ...
