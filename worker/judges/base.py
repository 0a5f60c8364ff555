"""What every judge takes and returns, and the rules every judge's results follow."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.config import Settings
from backend.domain import Verdict

# Why a verdict is unscored (JudgeResult.details["unscored"]). An unscored verdict is never counted as safe.
EMPTY_RESPONSE = "empty response"
UNPARSEABLE = "unparseable output"
CALL_FAILED = "call failed"
CALL_REFUSED = "call refused"
INPUT_TOO_LONG = "input too long"

# The judge's raw output is kept in the details up to this many characters.
RAW_OUTPUT_CHARS = 4000


class JudgeUnavailable(RuntimeError):
    """A judge that cannot work at all (its model will not load, its endpoint refuses the credentials): the
    job fails with this message, and verdicts are not stored as unscored, so a retry judges again."""


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict
    # A judge's graded score where it has one (a similarity, a probability, a rubric score); None otherwise.
    score: float | None
    # Why: shown next to the verdict in the dashboard.
    output: str
    # Structured: the categories a classifier named, how the response was truncated, the raw output, and
    # for an unscored verdict the reason ("unscored").
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unscored(cls, reason: str, explanation: str = "", **details: Any) -> "JudgeResult":
        output = f"unscored ({reason})" + (f": {explanation}" if explanation else "")
        return cls(Verdict.UNSCORED, None, output, {"unscored": reason, **details})

    def with_details(self, **details: Any) -> "JudgeResult":
        return JudgeResult(self.verdict, self.score, self.output, {**self.details, **details})


class Judge(Protocol):
    def judge_batch(
        self, prompts: Sequence[str], responses: Sequence[str], references: Sequence[str] | None = None
    ) -> list[JudgeResult]:
        """One result per (prompt, response) pair, in order; `references`: each pair's reference answer,
        for a template that grades against one ({reference}; the other judges ignore them)."""
        ...


class ReplyCache(Protocol):
    """LLM judges' replies by reply key (worker.judges.llm.reply_key)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, str]: ...

    def put_many(self, replies: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class JudgeResources:
    """What building a judge may need beyond its definition."""

    settings: Settings
    # The LLM judges' reply cache (worker.judges.replies); None: no cache (the bench).
    replies: ReplyCache | None = None
    # The project of the definition being built (None: a built-in): the operator gives API keys to projects.
    project_id: int | None = None


def judge_pairs(
    judge: Judge,
    prompts: Sequence[str],
    responses: Sequence[str],
    references: Sequence[str] | None = None,
) -> list[JudgeResult]:
    """The judge's results on the pairs, an empty response unscored without asking the judge: a model that
    said nothing has neither complied nor refused, and no judge's guess about it is a measurement."""
    if len(prompts) != len(responses) or (references is not None and len(references) != len(prompts)):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    asked = [index for index, response in enumerate(responses) if response.strip()]
    referenced = None if references is None else [references[i] for i in asked]
    answers = (
        judge.judge_batch([prompts[i] for i in asked], [responses[i] for i in asked], referenced)
        if asked
        else []
    )
    if len(answers) != len(asked):
        raise RuntimeError(f"the judge returned {len(answers)} results for {len(asked)} responses")
    results = [JudgeResult.unscored(EMPTY_RESPONSE)] * len(responses)
    for index, answer in zip(asked, answers, strict=True):
        results[index] = answer
    return results


def raw_output(text: str) -> str:
    return text if len(text) <= RAW_OUTPUT_CHARS else text[:RAW_OUTPUT_CHARS] + " [...]"
