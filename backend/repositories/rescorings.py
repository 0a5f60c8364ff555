"""Rescorings: a judge added to an experiment after submit judges the responses its runs already stored.

The responses are those of every run of the experiment (intermediate checkpoints' evaluations included) on
its safety benchmarks, the sets its judges judge; capability and over-refusal sets keep their own scorers.
"""

from collections.abc import Sequence

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from backend.api_models.judges import JudgeDefinitionRead, RescoringRead
from backend.domain import STAGE_STATUSES
from backend.errors import NotFound
from backend.models import (
    Condition,
    ExperimentBenchmark,
    Generation,
    JudgeDefinition,
    Judgment,
    Prompt,
    Rescoring,
    Run,
    owning_condition_id,
)
from backend.repositories.judges import judge_read


def create(session: Session, experiment_id: int, judge_id: int, created_by_id: int) -> int:
    rescoring = Rescoring(experiment_id=experiment_id, judge_id=judge_id, created_by_id=created_by_id)
    session.add(rescoring)
    session.flush()
    return rescoring.id


def _read(rescoring: Rescoring, judge: JudgeDefinition) -> RescoringRead:
    return RescoringRead(
        id=rescoring.id,
        experiment_id=rescoring.experiment_id,
        judge_id=judge.id,
        judge=str(judge.ref),
        status=rescoring.status,
        progress=rescoring.progress,
        progress_message=rescoring.progress_message,
        error=rescoring.error,
        created_at=rescoring.created_at,
        finished_at=rescoring.finished_at,
        lease_owner=rescoring.lease_owner,
        lease_expires_at=rescoring.lease_expires_at,
        attempts=rescoring.attempts,
        n_judged=rescoring.n_judged,
        seconds=rescoring.seconds,
    )


def of_experiment(session: Session, experiment_id: int) -> list[RescoringRead]:
    """The experiment's rescorings, oldest first."""
    rows = session.execute(
        select(Rescoring, JudgeDefinition)
        .join(JudgeDefinition, JudgeDefinition.id == Rescoring.judge_id)
        .where(Rescoring.experiment_id == experiment_id)
        .order_by(Rescoring.id)
    )
    return [_read(rescoring, judge) for rescoring, judge in rows]


def get(session: Session, rescoring_id: int) -> RescoringRead:
    row = session.execute(
        select(Rescoring, JudgeDefinition)
        .join(JudgeDefinition, JudgeDefinition.id == Rescoring.judge_id)
        .where(Rescoring.id == rescoring_id)
    ).first()
    if row is None:
        raise NotFound(f"rescoring {rescoring_id} not found")
    return _read(*row)


def experiment_of(session: Session, rescoring_id: int) -> int | None:
    return session.scalar(select(Rescoring.experiment_id).where(Rescoring.id == rescoring_id))


def job(session: Session, rescoring_id: int) -> tuple[int, JudgeDefinitionRead, list[int]]:
    """What the worker needs: the experiment, the judge definition and the experiment's safety benchmarks."""
    rescoring = session.get(Rescoring, rescoring_id)
    if rescoring is None:
        raise NotFound(f"rescoring {rescoring_id} not found")
    definition = session.get(JudgeDefinition, rescoring.judge_id)
    assert definition is not None, "a rescoring's judge is a stored definition (foreign key)"
    return (
        rescoring.experiment_id,
        judge_read(definition),
        safety_benchmarks(session, rescoring.experiment_id),
    )


def safety_benchmarks(session: Session, experiment_id: int) -> list[int]:
    """The experiment's benchmarks its judges judge, in order (capability sets have their own scorers)."""
    return list(
        session.scalars(
            select(ExperimentBenchmark.benchmark_id)
            .where(ExperimentBenchmark.experiment_id == experiment_id, ExperimentBenchmark.judge_id.is_(None))
            .order_by(ExperimentBenchmark.position)
        )
    )


def responses_on(experiment_id: int, benchmark_ids: Sequence[int]) -> Select[int]:
    """The experiment's stored responses on the benchmarks: a select of Generation rows joined to Prompt."""
    return (
        select(Generation.id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == owning_condition_id())
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(Condition.experiment_id == experiment_id, Prompt.benchmark_id.in_(benchmark_ids))
    )


def count_responses(
    session: Session, experiment_id: int, judge_id: int, benchmark_ids: Sequence[int]
) -> tuple[int, int]:
    """(responses stored, responses the judge has judged) on the benchmarks."""
    responses = responses_on(experiment_id, benchmark_ids).subquery()
    total = session.scalar(select(func.count()).select_from(responses)) or 0
    judged = (
        session.scalar(
            select(func.count())
            .select_from(responses)
            .join(Judgment, and_(Judgment.generation_id == responses.c.id, Judgment.judge_id == judge_id))
        )
        or 0
    )
    return total, judged


def unjudged(
    session: Session, experiment_id: int, judge_id: int, benchmark_ids: Sequence[int], after: int, limit: int
) -> list[tuple[int, str, str]]:
    """Up to `limit` responses past generation id `after` that the judge has not judged, in id order:
    (generation id, prompt, response); none when every one is judged. Read a batch at a time: an
    experiment can hold millions.

    Its responses are paged through in id order (the generations' primary key) and the judged ones dropped
    from each page, rather than anti-joined to the judge's verdicts in one query: the anti-join's plan
    rests on statistics of the judge's rows, which are stale while this job adds them, and with none
    counted PostgreSQL reads every verdict of the judge for every batch (a pass over 100,000 responses took
    0.4 s a batch halfway, against under a millisecond here)."""
    page = (
        responses_on(experiment_id, benchmark_ids)
        .add_columns(Prompt.text, Generation.text)
        .order_by(Generation.id)
        .limit(limit)
    )
    while rows := session.execute(page.where(Generation.id > after)).all():
        judged = set(
            session.scalars(
                select(Judgment.generation_id).where(
                    Judgment.judge_id == judge_id,
                    Judgment.generation_id.in_([generation_id for generation_id, _, _ in rows]),
                )
            )
        )
        if unjudged_rows := [(g, prompt, response) for g, prompt, response in rows if g not in judged]:
            return unjudged_rows
        after = rows[-1][0]
    return []


def working_runs(session: Session, experiment_id: int) -> int:
    """The experiment's runs a worker is (or should be) on: ones that may have read its judges before the
    rescoring's judge joined them, and store responses it has not seen yet."""
    return (
        session.scalar(
            select(func.count(Run.id))
            .join(Condition, Condition.id == owning_condition_id())
            .where(Condition.experiment_id == experiment_id, Run.status.in_(STAGE_STATUSES))
        )
        or 0
    )
