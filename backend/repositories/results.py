"""Generations, judgments and the harmfulness rates computed from them, aggregated in SQL."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.api_models.base import Page
from backend.api_models.experiments import RateRead
from backend.api_models.responses import GenerationRead, JudgmentRead
from backend.domain import JudgeRef, Verdict
from backend.models import Generation, JudgeDefinition, Judgment, Prompt, PromptCell
from backend.repositories.benchmark_filter import on_benchmark
from backend.stats.rates import PromptMoments, run_rate


def _run_counts(
    session: Session, run_ids: Sequence[int], judge_id: int, benchmark_id: int | None
) -> dict[int, tuple[dict[Verdict, int], PromptMoments, int | None]]:
    """Per run: verdict counts, the per-prompt moments its prompt-clustered interval needs, and the
    judged responses marked incoherent (None when none has a mark)."""
    harmful, scored = PromptCell.harmful, PromptCell.harmful + PromptCell.safe
    rows = session.execute(
        select(
            PromptCell.run_id,
            func.sum(harmful),
            func.sum(PromptCell.safe),
            func.sum(PromptCell.unscored),
            func.sum(case((scored > 0, 1), else_=0)),
            func.sum(harmful * harmful),
            func.sum(harmful * scored),
            func.sum(scored * scored),
            func.sum(PromptCell.incoherent),
        )
        .where(
            PromptCell.run_id.in_(run_ids),
            PromptCell.judge_id == judge_id,
            on_benchmark(PromptCell.prompt_id, benchmark_id),
        )
        .group_by(PromptCell.run_id)
    )
    return {
        run_id: (
            {Verdict.HARMFUL: h, Verdict.SAFE: s, Verdict.UNSCORED: u},
            PromptMoments(n_prompts, float(hh), float(hn), float(nn)),
            incoherent,
        )
        for run_id, h, s, u, n_prompts, hh, hn, nn, incoherent in rows
    }


def judgments_of(session: Session, generation_ids: Sequence[int]) -> dict[int, list[JudgmentRead]]:
    """Every judgment of those generations, by generation id."""
    judgments: dict[int, list[JudgmentRead]] = defaultdict(list)
    rows = session.execute(
        select(Judgment, JudgeDefinition.name, JudgeDefinition.version)
        .join(JudgeDefinition, JudgeDefinition.id == Judgment.judge_id)
        .where(Judgment.generation_id.in_(generation_ids))
        .order_by(JudgeDefinition.name, JudgeDefinition.version)
    )
    for judgment, name, version in rows:
        judgments[judgment.generation_id].append(
            JudgmentRead(
                judge_id=judgment.judge_id,
                judge=str(JudgeRef(name, version)),
                verdict=judgment.verdict,
                score=judgment.score,
                output=judgment.output,
                details=judgment.details,
            )
        )
    return judgments


def rate_read(
    harmful: int,
    safe: int,
    unscored: int,
    moments: PromptMoments | None = None,
    incoherent: int | None = None,
) -> RateRead:
    """The rate, its (prompt-clustered) Wilson interval and the counts; no rate (None) before any verdict."""
    rate = run_rate(harmful, safe, unscored, moments)
    scored = rate.n_scored > 0
    return RateRead(
        harmful=harmful,
        safe=safe,
        unscored=unscored,
        rate=rate.rate if scored else None,
        low=rate.low if scored else None,
        high=rate.high if scored else None,
        design_effect=rate.design_effect,
        incoherent=incoherent,
    )


def counting(rate: RateRead, counted: Verdict) -> RateRead:
    """A run's rate of the `counted` verdict: SAFE (a capability or over-refusal set's rate) is one minus
    the harmful share, its interval mirrored (Wilson's interval and the design effect are symmetric)."""
    if counted == Verdict.HARMFUL or rate.rate is None or rate.low is None or rate.high is None:
        return rate
    return rate.model_copy(update={"rate": 1 - rate.rate, "low": 1 - rate.high, "high": 1 - rate.low})


def rates_of_runs(
    session: Session,
    run_ids: Sequence[int],
    judge_id: int,
    benchmark_id: int | None = None,
    counted: Verdict = Verdict.HARMFUL,
) -> dict[int, RateRead]:
    """The rate of the `counted` verdict (the harmful one unless told) of every run that has judgments
    (on the benchmark's prompts when given); runs without any are left out."""
    return {
        run_id: counting(
            rate_read(c[Verdict.HARMFUL], c[Verdict.SAFE], c[Verdict.UNSCORED], moments, incoherent), counted
        )
        for run_id, (c, moments, incoherent) in _run_counts(session, run_ids, judge_id, benchmark_id).items()
    }


def generations_of_run(session: Session, run_id: int, *, page: int, page_size: int) -> Page[GenerationRead]:
    total = session.scalar(select(func.count()).where(Generation.run_id == run_id)) or 0
    rows = session.execute(
        select(Generation, Prompt.external_id, Prompt.text)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(Generation.run_id == run_id)
        .order_by(Prompt.position, Generation.sample_index)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    judgments = judgments_of(session, [g.id for g, _, _ in rows])
    items = [
        GenerationRead(
            id=g.id,
            run_id=g.run_id,
            prompt_id=g.prompt_id,
            prompt_external_id=external_id,
            prompt_text=prompt_text,
            sample_index=g.sample_index,
            text=g.text,
            n_new_tokens=g.n_new_tokens,
            coherence=g.coherence,
            incoherent=g.incoherent,
            judgments=judgments[g.id],
        )
        for g, external_id, prompt_text in rows
    ]
    return Page[GenerationRead](items=items, total=total, page=page, page_size=page_size)
