"""prompt_cells: one run's verdict counts per prompt and judge (and how many of the judged responses
are incoherent), derived from judgments and generations."""

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from backend.db import dialect_insert, insert_ignoring_duplicates
from backend.domain import Verdict
from backend.models import Generation, Judgment, PromptCell, Run


def refresh_prompt_cells(
    session: Session,
    run_id: int,
    judge_id: int,
    prompt_ids: Collection[int] | None = None,
    *,
    revise_run: bool = True,
) -> None:
    """Recount the run's verdicts per prompt for one judge (only on `prompt_ids`, when given: the prompts a
    batch of judgments touched); call in the transaction that adds the judgments. New counts move the run's
    revision on, a change the dashboard must see, unless not `revise_run` (a rescoring's pages: its
    progress and its status are that change, backend.services.experiment_state)."""

    # The run's verdicts by every judge, read from its responses, then one judge's kept: fenced off
    # (MATERIALIZED) so that PostgreSQL cannot start from the judge's verdicts. While a judge's verdicts are
    # being added (a rescoring of a million responses) the statistics still count none of them, and a plan
    # that reads them all looks free: it cost 250 ms a batch with 50,000 stored, against 0.3 ms this way.
    responses = (
        select(Generation.prompt_id, Generation.incoherent, Judgment.judge_id, Judgment.verdict)
        .join(Judgment, Judgment.generation_id == Generation.id)
        .where(Generation.run_id == run_id)
    )
    if prompt_ids is not None:
        responses = responses.where(Generation.prompt_id.in_(list(prompt_ids)))
    verdicts = responses.cte("verdicts").prefix_with("MATERIALIZED", dialect="postgresql")

    def count(verdict: Verdict) -> Any:
        return func.sum(case((verdicts.c.verdict == verdict, 1), else_=0))

    # NULL (SUM of no values) when none of the responses has a coherence mark.
    incoherent = func.sum(
        case((verdicts.c.incoherent.is_(None), None), (verdicts.c.incoherent.is_(True), 1), else_=0)
    )
    query = (
        select(
            verdicts.c.prompt_id,
            count(Verdict.HARMFUL),
            count(Verdict.SAFE),
            count(Verdict.UNSCORED),
            incoherent,
        )
        .where(verdicts.c.judge_id == judge_id)
        .group_by(verdicts.c.prompt_id)
    )
    counts = session.execute(query).all()
    if not counts:
        return
    # Executed with many parameter sets, compiled once (backend.db.insert_ignoring_duplicates says why).
    statement = dialect_insert(session)(PromptCell.__table__)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["run_id", "prompt_id", "judge_id"],
            set_={name: statement.excluded[name] for name in ("harmful", "safe", "unscored", "incoherent")},
        ),
        [
            {
                "run_id": run_id,
                "prompt_id": prompt_id,
                "judge_id": judge_id,
                "harmful": h,
                "safe": s,
                "unscored": u,
                "incoherent": i,
            }
            for prompt_id, h, s, u, i in counts
        ],
    )
    if revise_run:
        session.execute(update(Run).where(Run.id == run_id).values(revision=Run.revision + 1))


def add_judgments(
    session: Session, judge_id: int, rows: Sequence[dict[str, Any]], *, revise_runs: bool = True
) -> None:
    """Store one judge's verdicts (rows of Judgment's columns, `generation_id` first among them), leaving any
    already stored, and recount the prompt cells they touch, run by run (refresh_prompt_cells, `revise_runs`
    its revise_run); call inside the writer's transaction, so the verdicts and their counts land together."""
    if not rows:
        return
    insert_ignoring_duplicates(
        session, Judgment, [{**row, "judge_id": judge_id} for row in rows], ["generation_id", "judge_id"]
    )
    touched: dict[int, set[int]] = defaultdict(set)
    for run_id, prompt_id in session.execute(
        select(Generation.run_id, Generation.prompt_id)
        .where(Generation.id.in_([row["generation_id"] for row in rows]))
        .distinct()
    ):
        touched[run_id].add(prompt_id)
    for run_id, prompt_ids in touched.items():
        refresh_prompt_cells(session, run_id, judge_id, prompt_ids, revise_run=revise_runs)
