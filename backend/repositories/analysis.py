"""The aggregates the statistics need, computed in SQL from prompt_cells (one row per run and prompt)."""

import itertools
from collections import defaultdict

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from backend.domain import Verdict
from backend.models import Condition, Generation, Judgment, Prompt, PromptCell, Run
from backend.stats.cells import Cells


def condition_cells(session: Session, experiment_id: int, judge_id: int) -> dict[int, Cells]:
    """{condition id: verdict counts per (training seed, prompt)}, re-evaluations pooled into their seed."""
    # Core execution (not the ORM's) gives a CursorResult, whose DBAPI cursor is read directly below.
    result = session.connection().execute(
        select(
            Run.condition_id,
            Run.seed,
            PromptCell.prompt_id,
            func.sum(PromptCell.harmful),
            func.sum(PromptCell.harmful + PromptCell.safe),
        )
        .join(Run, Run.id == PromptCell.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(Condition.experiment_id == experiment_id, PromptCell.judge_id == judge_id)
        .group_by(Run.condition_id, Run.seed, PromptCell.prompt_id)
        .order_by(Run.condition_id)
    )
    # Up to a row per (seed, prompt) of every condition: plain integer tuples from the DBAPI cursor, read
    # by np.fromiter, cost a fraction of ORM Row objects (np.array on Rows probes each for array attributes).
    rows = result.cursor.fetchall()
    if not rows:
        return {}
    table = np.fromiter(itertools.chain.from_iterable(rows), np.int64, count=5 * len(rows)).reshape(-1, 5)
    starts = np.flatnonzero(np.r_[True, table[1:, 0] != table[:-1, 0]])
    return {
        int(block[0, 0]): Cells(seed=block[:, 1], prompt=block[:, 2], harmful=block[:, 3], scored=block[:, 4])
        for block in np.split(table, starts[1:])
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


def evaluation_rates(
    session: Session, experiment_id: int, judge_id: int
) -> dict[int, list[tuple[int, float]]]:
    """{checkpoint run id: [(evaluation index, rate)]} for checkpoints evaluated more than once."""
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
        select(checkpoint, Run.evaluation_index, func.sum(PromptCell.harmful), scored)
        .join(PromptCell, PromptCell.run_id == Run.id)
        .where(checkpoint.in_(select(repeated.c.checkpoint)), PromptCell.judge_id == judge_id)
        .group_by(checkpoint, Run.evaluation_index)
        .having(scored > 0)
        .order_by(checkpoint, Run.evaluation_index)
    )
    rates: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for checkpoint_id, index, harmful, n in rows:
        rates[checkpoint_id].append((index, harmful / n))
    return dict(rates)


def category_counts(
    session: Session, experiment_id: int, judge_id: int
) -> list[tuple[int, str, int, int, int]]:
    """(condition id, category, harmful, safe, unscored) over every verdict of the condition."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in session.execute(
            select(
                Run.condition_id,
                Prompt.category,
                func.sum(PromptCell.harmful),
                func.sum(PromptCell.safe),
                func.sum(PromptCell.unscored),
            )
            .join(Run, Run.id == PromptCell.run_id)
            .join(Condition, Condition.id == Run.condition_id)
            .join(Prompt, Prompt.id == PromptCell.prompt_id)
            .where(Condition.experiment_id == experiment_id, PromptCell.judge_id == judge_id)
            .group_by(Run.condition_id, Prompt.category)
            .order_by(Prompt.category)
        )
    ]


def agreement_counts(
    session: Session, experiment_id: int, judge_a: int, judge_b: int
) -> dict[tuple[Verdict, Verdict], int]:
    """How often judge A said x while judge B said y, over the experiment's generations both judged."""
    first, second = aliased(Judgment), aliased(Judgment)
    rows = session.execute(
        select(first.verdict, second.verdict, func.count())
        .join(second, (second.generation_id == first.generation_id) & (second.judge_id == judge_b))
        .join(Generation, Generation.id == first.generation_id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(first.judge_id == judge_a, Condition.experiment_id == experiment_id)
        .group_by(first.verdict, second.verdict)
    )
    return {(Verdict(a), Verdict(b)): count for a, b, count in rows}
