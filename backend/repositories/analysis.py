"""The aggregates the statistics need, computed in SQL: verdict counts from prompt_cells (one row per run and
prompt), scores from the judgments themselves, refusal-prefix scores from their table. With `benchmark_id`,
over that benchmark's prompts only (an experiment evaluated on several); None: over every prompt."""

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import exists, func, select, true
from sqlalchemy.orm import Session, aliased

from backend.domain import Verdict
from backend.errors import InvalidInput
from backend.models import Condition, Generation, Judgment, Prompt, PromptCell, RefusalPrefixScore, Run
from backend.refusal_openings import REFUSAL_OPENINGS
from backend.repositories.benchmark_filter import on_benchmark
from backend.stats.cells import Cells


def _by_condition(rows: Sequence[Sequence[Any]], columns: int, dtype: type[np.generic]) -> list[np.ndarray]:
    """Rows ordered by condition id (first column) as one block per condition; no rows, no blocks.

    Plain tuples from the DBAPI cursor, read by np.fromiter, cost a fraction of ORM Row objects (np.array on
    Rows probes each for array attributes).
    """
    if not rows:
        return []
    table = np.fromiter(itertools.chain.from_iterable(rows), dtype, count=columns * len(rows))
    table = table.reshape(-1, columns)
    starts = np.flatnonzero(np.r_[True, table[1:, 0] != table[:-1, 0]])
    return np.split(table, starts[1:])


def _counted_column(counted: Verdict) -> Any:
    """The prompt cells' count of a verdict."""
    return PromptCell.harmful if counted == Verdict.HARMFUL else PromptCell.safe


def condition_cells(
    session: Session,
    experiment_id: int,
    judge_id: int,
    benchmark_id: int | None = None,
    counted: Verdict = Verdict.HARMFUL,
) -> dict[int, Cells]:
    """{condition id: verdict counts per (training seed, prompt)}, re-evaluations pooled into their seed;
    the cells' `harmful` counts the `counted` verdict (SAFE: a capability or over-refusal set's rate)."""
    # Core execution (not the ORM's) gives a CursorResult, whose DBAPI cursor is read directly below.
    result = session.connection().execute(
        select(
            Run.condition_id,
            Run.seed,
            PromptCell.prompt_id,
            func.sum(_counted_column(counted)),
            func.sum(PromptCell.harmful + PromptCell.safe),
        )
        .join(Run, Run.id == PromptCell.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(
            Condition.experiment_id == experiment_id,
            PromptCell.judge_id == judge_id,
            on_benchmark(PromptCell.prompt_id, benchmark_id),
        )
        .group_by(Run.condition_id, Run.seed, PromptCell.prompt_id)
        .order_by(Run.condition_id)
    )
    # Up to a row per (seed, prompt) of every condition.
    return {
        int(block[0, 0]): Cells(seed=block[:, 1], prompt=block[:, 2], harmful=block[:, 3], scored=block[:, 4])
        for block in _by_condition(result.cursor.fetchall(), 5, np.int64)
    }


def verdict_totals(
    session: Session, experiment_id: int, judge_ids: list[int]
) -> list[tuple[int, int, int, int, int]]:
    """(run id, judge id, harmful, safe, unscored) of every run with verdicts by the given judges."""
    if not judge_ids:
        return []
    rows = session.execute(
        select(
            PromptCell.run_id,
            PromptCell.judge_id,
            func.sum(PromptCell.harmful),
            func.sum(PromptCell.safe),
            func.sum(PromptCell.unscored),
        )
        .join(Run, Run.id == PromptCell.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(Condition.experiment_id == experiment_id, PromptCell.judge_id.in_(judge_ids))
        .group_by(PromptCell.run_id, PromptCell.judge_id)
        .order_by(PromptCell.run_id, PromptCell.judge_id)
    )
    return [(int(r), int(j), int(h), int(s), int(u)) for r, j, h, s, u in rows]


def condition_score_cells(
    session: Session, experiment_id: int, judge_id: int, benchmark_id: int | None = None
) -> dict[int, Cells]:
    """{condition id: the judge's scores per (training seed, prompt) as sum, count and sum of squares},
    re-evaluations pooled into their seed.

    Read from the judgments themselves (prompt_cells count verdicts only). A score counts when its verdict is
    harmful or safe: unscored judgments and judgments without a score are left out, so a cell's count may
    be below its verdict count, and a (seed, prompt) without any score has no cell. Raises InvalidInput
    when a score lies outside [0, 1] (e.g. refusal-minilm's similarities), which a mean score cannot use.
    """
    score = Judgment.score
    result = session.connection().execute(
        select(
            Run.condition_id,
            Run.seed,
            Generation.prompt_id,
            func.sum(score),
            func.count(score),
            func.sum(score * score),
            func.min(score),
            func.max(score),
        )
        .join(Generation, Generation.id == Judgment.generation_id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(
            Condition.experiment_id == experiment_id,
            Judgment.judge_id == judge_id,
            Judgment.verdict != Verdict.UNSCORED,
            score.is_not(None),
            on_benchmark(Generation.prompt_id, benchmark_id),
        )
        .group_by(Run.condition_id, Run.seed, Generation.prompt_id)
        .order_by(Run.condition_id)
    )
    # Ids, seeds and counts stay exact in float64 (below 2^53).
    blocks = _by_condition(result.cursor.fetchall(), 8, np.float64)
    for block in blocks:
        low, high = block[:, 6].min(), block[:, 7].max()
        if low < 0 or high > 1:
            raise InvalidInput(
                f"judge {judge_id}'s scores run from {low:g} to {high:g}: a mean score needs scores in [0, 1]"
            )
    return _summed_cells(blocks)


def _summed_cells(blocks: list[np.ndarray]) -> dict[int, Cells]:
    """Cells from per-condition blocks of (condition, seed, prompt, sum, count, sum of squares, ...)."""
    return {
        int(block[0, 0]): Cells(
            seed=block[:, 1].astype(np.int64),
            prompt=block[:, 2].astype(np.int64),
            harmful=block[:, 3],  # the sum of the scores
            scored=block[:, 4].astype(np.int64),
            sum_squares=block[:, 5],
        )
        for block in blocks
    }


def condition_refusal_prefix_cells(
    session: Session, experiment_id: int, benchmark_id: int | None = None
) -> dict[int, Cells]:
    """{condition id: the runs' refusal-prefix scores (worker.refusal_prefix, with the phrase set
    backend.refusal_openings.REFUSAL_OPENINGS) per (training seed, prompt) as sum, count and sum of
    squares}, re-evaluations pooled into their seed. Each score is a probability in [0, 1]."""
    score = RefusalPrefixScore.probability
    result = session.connection().execute(
        select(
            Run.condition_id,
            Run.seed,
            RefusalPrefixScore.prompt_id,
            func.sum(score),
            func.count(score),
            func.sum(score * score),
        )
        .join(Run, Run.id == RefusalPrefixScore.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(
            Condition.experiment_id == experiment_id,
            RefusalPrefixScore.openings == REFUSAL_OPENINGS,
            on_benchmark(RefusalPrefixScore.prompt_id, benchmark_id),
        )
        .group_by(Run.condition_id, Run.seed, RefusalPrefixScore.prompt_id)
        .order_by(Run.condition_id)
    )
    return _summed_cells(_by_condition(result.cursor.fetchall(), 6, np.float64))


def has_refusal_prefix_scores(session: Session, experiment_id: int) -> bool:
    """Whether some run of the experiment has a refusal-prefix score with the current phrase set."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    RefusalPrefixScore.run_id == Run.id,
                    Run.condition_id == Condition.id,
                    Condition.experiment_id == experiment_id,
                    RefusalPrefixScore.openings == REFUSAL_OPENINGS,
                )
            )
        )
    )


def evaluation_rates(
    session: Session,
    experiment_id: int,
    judge_id: int,
    benchmark_id: int | None = None,
    counted: Verdict = Verdict.HARMFUL,
) -> dict[int, list[tuple[int, float]]]:
    """{checkpoint run id: [(evaluation index, rate of the counted verdict)]} for checkpoints evaluated
    more than once."""
    checkpoint = func.coalesce(Run.evaluation_of_id, Run.id)
    repeated = (
        select(checkpoint.label("checkpoint"))
        .join(Condition, Condition.id == Run.condition_id)
        .where(Condition.experiment_id == experiment_id)
        .group_by(checkpoint)
        .having(func.count() > 1)
        .subquery()
    )
    scored = func.sum(PromptCell.harmful + PromptCell.safe)
    rows = session.execute(
        select(checkpoint, Run.evaluation_index, func.sum(_counted_column(counted)), scored)
        .join(PromptCell, PromptCell.run_id == Run.id)
        .where(
            checkpoint.in_(select(repeated.c.checkpoint)),
            PromptCell.judge_id == judge_id,
            on_benchmark(PromptCell.prompt_id, benchmark_id),
        )
        .group_by(checkpoint, Run.evaluation_index)
        .having(scored > 0)
        .order_by(checkpoint, Run.evaluation_index)
    )
    rates: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for checkpoint_id, index, harmful, n in rows:
        rates[checkpoint_id].append((index, harmful / n))
    return dict(rates)


def category_counts(
    session: Session,
    experiment_id: int,
    judge_id: int,
    benchmark_id: int | None = None,
    counted: Verdict = Verdict.HARMFUL,
) -> list[tuple[int, str, int, int, int]]:
    """(condition id, category, counted, the other verdict, unscored) over every verdict of the condition:
    (harmful, safe, unscored) unless `counted` is SAFE."""
    other = Verdict.SAFE if counted == Verdict.HARMFUL else Verdict.HARMFUL
    return [
        tuple(row)  # type: ignore[misc]
        for row in session.execute(
            select(
                Run.condition_id,
                Prompt.category,
                func.sum(_counted_column(counted)),
                func.sum(_counted_column(other)),
                func.sum(PromptCell.unscored),
            )
            .join(Run, Run.id == PromptCell.run_id)
            .join(Condition, Condition.id == Run.condition_id)
            .join(Prompt, Prompt.id == PromptCell.prompt_id)
            .where(
                Condition.experiment_id == experiment_id,
                PromptCell.judge_id == judge_id,
                on_benchmark(PromptCell.prompt_id, benchmark_id),
            )
            .group_by(Run.condition_id, Prompt.category)
            .order_by(Prompt.category)
        )
    ]


def agreement_counts(
    session: Session,
    experiment_id: int,
    judge_a: int,
    judge_b: int,
    benchmark_id: int | None = None,
    incoherent: bool | None = None,
) -> dict[tuple[Verdict, Verdict], int]:
    """How often judge A said x while judge B said y, over the experiment's generations both judged (only
    those the coherence rule marks incoherent, or only those it marks coherent, when `incoherent` says)."""
    first, second = aliased(Judgment), aliased(Judgment)
    rows = session.execute(
        select(first.verdict, second.verdict, func.count())
        .join(second, (second.generation_id == first.generation_id) & (second.judge_id == judge_b))
        .join(Generation, Generation.id == first.generation_id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(
            first.judge_id == judge_a,
            Condition.experiment_id == experiment_id,
            on_benchmark(Generation.prompt_id, benchmark_id),
            true() if incoherent is None else Generation.incoherent.is_(incoherent),
        )
        .group_by(first.verdict, second.verdict)
    )
    return {(Verdict(a), Verdict(b)): count for a, b, count in rows}
