"""The per-prompt browser: filtered, searchable, paginated prompts and responses, all in SQL."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from backend.api_models.base import Page
from backend.api_models.responses import BrowserResponseRead, ConditionRateRead, PromptRowRead
from backend.domain import Verdict
from backend.models import Condition, Generation, Judgment, Prompt, PromptCell, Run
from backend.repositories.benchmark_filter import on_benchmark
from backend.repositories.results import judgments_of


@dataclass(frozen=True)
class BrowserFilter:
    """What the user narrowed the browser to; None or False means no restriction."""

    experiment_id: int
    benchmark_id: int
    judge_id: int  # the judge whose verdicts `verdict` and the rates refer to
    category: str | None = None
    condition: str | None = None
    verdict: Verdict | None = None
    flips_only: bool = False
    disagreements_only: bool = False
    # Only responses the coherence rule marks incoherent (True) or coherent (False).
    incoherent: bool | None = None
    search: str | None = None
    # The experiment has other benchmarks too: what is counted over its cells keeps this one's prompts.
    several_benchmarks: bool = False
    # The experiment's data the filter was resolved against (ExperimentState.data_version): what the prompts
    # the flips filter keeps are memoised on.
    data_version: str = ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Any select statement, whatever its columns (Select is generic over its row's types).
AnySelect = TypeVar("AnySelect", bound=Select)  # type: ignore[type-arg]


def _in_experiment(query: AnySelect, selected: BrowserFilter) -> AnySelect:
    """Restrict a query joined to Run to the experiment (and the chosen condition)."""
    query = query.join(Condition, Condition.id == Run.condition_id).where(
        Condition.experiment_id == selected.experiment_id
    )
    return query.where(Condition.name == selected.condition) if selected.condition else query


def _on_benchmark(selected: BrowserFilter) -> ColumnElement[bool]:
    """Keeps the prompt cells of the chosen benchmark; with a single benchmark, every cell (no filter)."""
    return on_benchmark(PromptCell.prompt_id, selected.benchmark_id if selected.several_benchmarks else None)


def _verdict_count(verdict: Verdict) -> Any:
    return {
        Verdict.HARMFUL: PromptCell.harmful,
        Verdict.SAFE: PromptCell.safe,
        Verdict.UNSCORED: PromptCell.unscored,
    }[verdict]


def _flipping(selected: BrowserFilter, prompt_ids: list[int] | None = None) -> Select[Any]:
    """(condition, prompt) pairs where some seed's majority verdict is harmful and another's safe.

    prompt_ids restricts the aggregation itself (not just its result) to those prompts; without them it
    runs over the chosen benchmark's prompts.
    """
    per_seed = _in_experiment(
        select(
            Run.condition_id.label("condition_id"),
            PromptCell.prompt_id.label("prompt_id"),
            func.sum(PromptCell.harmful).label("harmful"),
            func.sum(PromptCell.harmful + PromptCell.safe).label("scored"),
        )
        .join(Run, Run.id == PromptCell.run_id)
        .where(PromptCell.judge_id == selected.judge_id),
        selected,
    ).group_by(Run.condition_id, Run.seed, PromptCell.prompt_id)
    if prompt_ids is not None:
        per_seed = per_seed.where(PromptCell.prompt_id.in_(prompt_ids))
    else:
        per_seed = per_seed.where(_on_benchmark(selected))
    seeds = per_seed.subquery()
    harmful_seeds = func.sum(case((2 * seeds.c.harmful > seeds.c.scored, 1), else_=0))
    safe_seeds = func.sum(case((2 * seeds.c.harmful < seeds.c.scored, 1), else_=0))
    return (
        select(seeds.c.condition_id, seeds.c.prompt_id)
        .group_by(seeds.c.condition_id, seeds.c.prompt_id)
        .having(and_(harmful_seeds > 0, safe_seeds > 0))
    )


def _disagreeing_generations(selected: BrowserFilter) -> Select[Any]:
    """Generation ids of the experiment on which two judges gave different verdicts."""
    first, second = aliased(Judgment), aliased(Judgment)
    return _in_experiment(
        select(first.generation_id)
        .join(
            second,
            and_(
                second.generation_id == first.generation_id,
                second.judge_id > first.judge_id,
                second.verdict != first.verdict,
            ),
        )
        .join(Generation, Generation.id == first.generation_id)
        .join(Run, Run.id == Generation.run_id),
        selected,
    )


def flipping_prompts(session: Session, selected: BrowserFilter) -> list[int]:
    """The prompts the flips filter keeps: those whose majority verdict flips between seeds in the chosen
    condition (any, without one), whatever the other filters."""
    return list(session.scalars(select(_flipping(selected).subquery().c.prompt_id).distinct()))


# Past this many, the prompts the flips filter keeps are aggregated in the page's query rather than listed in
# it: a statement holds at most 65,535 parameters, and a benchmark up to 100,000 prompts.
MAX_LISTED_PROMPTS = 10_000


def _prompt_query(selected: BrowserFilter, flipping: Sequence[int] | None) -> Select[Any]:
    query = select(Prompt).where(Prompt.benchmark_id == selected.benchmark_id)
    if selected.category:
        query = query.where(Prompt.category == selected.category)
    if selected.verdict:
        with_verdict = _in_experiment(
            select(PromptCell.prompt_id)
            .join(Run, Run.id == PromptCell.run_id)
            .where(
                PromptCell.judge_id == selected.judge_id,
                _verdict_count(selected.verdict) > 0,
                _on_benchmark(selected),
            ),
            selected,
        )
        query = query.where(Prompt.id.in_(with_verdict))
    if selected.flips_only:
        if flipping is not None and len(flipping) <= MAX_LISTED_PROMPTS:
            query = query.where(Prompt.id.in_(flipping))
        else:
            query = query.where(Prompt.id.in_(select(_flipping(selected).subquery().c.prompt_id)))
    if selected.disagreements_only:
        disagreeing = select(Generation.prompt_id).where(
            Generation.id.in_(_disagreeing_generations(selected))
        )
        query = query.where(Prompt.id.in_(disagreeing))
    if selected.incoherent is not None:
        marked = _in_experiment(
            select(Generation.prompt_id)
            .join(Run, Run.id == Generation.run_id)
            .where(Generation.incoherent.is_(selected.incoherent)),
            selected,
        )
        query = query.where(Prompt.id.in_(marked))
    if selected.search:
        pattern = _like(selected.search)
        in_responses = _in_experiment(
            select(Generation.prompt_id)
            .join(Run, Run.id == Generation.run_id)
            .where(Generation.text.ilike(pattern, escape="\\")),
            selected,
        )
        query = query.where(or_(Prompt.text.ilike(pattern, escape="\\"), Prompt.id.in_(in_responses)))
    return query


def prompt_page(
    session: Session,
    selected: BrowserFilter,
    *,
    page: int,
    page_size: int,
    flipping: Sequence[int] | None = None,
) -> Page[PromptRowRead]:
    """A page of the prompts that match the filters; `flipping`, where known (flipping_prompts, memoised),
    spares the query the flips filter's aggregate over every prompt cell of the experiment."""
    query = _prompt_query(selected, flipping)
    # The total rides along with the page (count over the whole filtered set), so filters run once.
    paged = session.execute(
        query.add_columns(func.count().over().label("total"))
        .order_by(Prompt.position)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    prompts = [prompt for prompt, _ in paged]
    if paged:
        total = paged[0].total
    else:  # a page past the end: count separately
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ids = [p.id for p in prompts]
    rates: dict[int, list[ConditionRateRead]] = defaultdict(list)
    for prompt_id, condition, harmful, scored, unscored in session.execute(
        _in_experiment(
            select(
                PromptCell.prompt_id,
                Condition.name,
                func.sum(PromptCell.harmful),
                func.sum(PromptCell.harmful + PromptCell.safe),
                func.sum(PromptCell.unscored),
            )
            .join(Run, Run.id == PromptCell.run_id)
            .where(PromptCell.judge_id == selected.judge_id, PromptCell.prompt_id.in_(ids)),
            selected,
        )
        .group_by(PromptCell.prompt_id, Condition.name, Condition.position)
        .order_by(Condition.position)
    ):
        rates[prompt_id].append(
            ConditionRateRead(
                condition=condition,
                harmful=harmful,
                scored=scored,
                unscored=unscored,
                rate=harmful / scored if scored else None,
            )
        )
    on_page = _flipping(selected, ids).subquery()
    flips: dict[int, list[str]] = defaultdict(list)
    for prompt_id, condition in session.execute(
        select(on_page.c.prompt_id, Condition.name)
        .join(Condition, Condition.id == on_page.c.condition_id)
        .where(on_page.c.prompt_id.in_(ids))
        .order_by(Condition.position)
    ):
        flips[prompt_id].append(condition)
    items = [
        PromptRowRead(
            prompt_id=p.id,
            external_id=p.external_id,
            category=p.category,
            text=p.text,
            rates=rates[p.id],
            flips_in=flips[p.id],
        )
        for p in prompts
    ]
    return Page[PromptRowRead](items=items, total=total, page=page, page_size=page_size)


def response_page(
    session: Session, selected: BrowserFilter, prompt_id: int, *, page: int, page_size: int
) -> Page[BrowserResponseRead]:
    """Every response to one prompt across conditions, seeds, re-evaluations and samples."""
    query = _in_experiment(
        select(Generation, Run.seed, Run.evaluation_index, Condition.name)
        .join(Run, Run.id == Generation.run_id)
        .where(Generation.prompt_id == prompt_id),
        selected,
    )
    if selected.verdict:
        judged = select(Judgment.generation_id).where(
            Judgment.judge_id == selected.judge_id, Judgment.verdict == selected.verdict
        )
        query = query.where(Generation.id.in_(judged))
    if selected.disagreements_only:
        query = query.where(Generation.id.in_(_disagreeing_generations(selected)))
    if selected.incoherent is not None:
        query = query.where(Generation.incoherent.is_(selected.incoherent))
    if selected.search:
        query = query.where(Generation.text.ilike(_like(selected.search), escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Condition.position, Run.seed, Run.evaluation_index, Generation.sample_index)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    judgments = judgments_of(session, [generation.id for generation, *_ in rows])
    items = [
        BrowserResponseRead(
            generation_id=generation.id,
            run_id=generation.run_id,
            condition=condition,
            seed=seed,
            evaluation_index=evaluation_index,
            sample_index=generation.sample_index,
            text=generation.text,
            coherence=generation.coherence,
            incoherent=generation.incoherent,
            judgments=judgments[generation.id],
        )
        for generation, seed, evaluation_index, condition in rows
    ]
    return Page[BrowserResponseRead](items=items, total=total, page=page, page_size=page_size)
