"""Generations and their judgments, and the per-prompt browser's rows."""

from typing import Any

from backend.api_models.base import ReadModel
from backend.domain import Verdict


class JudgmentRead(ReadModel):
    judge_id: int
    # name@version of the definition that made it.
    judge: str
    verdict: Verdict
    score: float | None
    # The judge's reasoning, the categories it named, or why the verdict is unscored.
    output: str
    details: dict[str, Any]


class GenerationRead(ReadModel):
    id: int
    run_id: int
    prompt_id: int
    prompt_external_id: str
    prompt_text: str
    sample_index: int
    text: str
    n_new_tokens: int
    # The base model's mean per-token log-likelihood of the text, and the coherence rule's mark
    # (worker.coherence); None for a response generated before coherence was measured.
    coherence: float | None = None
    incoherent: bool | None = None
    judgments: list[JudgmentRead]


class ConditionRateRead(ReadModel):
    condition: str
    harmful: int
    scored: int
    # Verdicts the judge could not give: counted beside the rate, never in it.
    unscored: int
    rate: float | None


class PromptRowRead(ReadModel):
    """A prompt in the per-prompt browser, with its harmfulness rate under each condition."""

    prompt_id: int
    external_id: str
    category: str
    text: str
    rates: list[ConditionRateRead]
    # Conditions under which some seeds' majority verdict is harmful and others' safe.
    flips_in: list[str]


class BrowserResponseRead(ReadModel):
    """One response to a prompt, with every judge's verdict."""

    generation_id: int
    run_id: int
    condition: str
    seed: int
    evaluation_index: int
    sample_index: int
    text: str
    coherence: float | None = None
    incoherent: bool | None = None
    judgments: list[JudgmentRead]
