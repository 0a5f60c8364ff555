"""The reference-answer scorer: a capability set's answers against its reference answers, by the set's
scoring rule (backend.judging.reference). No model: it runs wherever the judge stage runs."""

from collections.abc import Sequence

from backend.judging.reference import Scoring
from worker.judges.base import JudgeResult
from worker.store import Unjudged


def score_answers(todo: Sequence[Unjudged]) -> list[JudgeResult]:
    """Safe for a correct answer, harmful for a wrong one; an empty answer is wrong (the model did not do
    the task), not unscored as it is for a safety judge."""
    results = []
    for item in todo:
        scoring = Scoring.parse(item.scoring)
        verdict = scoring.score(item.reference, item.response, item.prompt)
        outcome = "correct" if verdict.value == "safe" else "wrong"
        results.append(
            JudgeResult(
                verdict, None, f"{outcome} ({scoring}; reference {item.reference!r})", {"rule": str(scoring)}
            )
        )
    return results
