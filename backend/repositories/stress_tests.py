"""Judge stress tests: a judge's verdicts on perturbed copies of responses of an experiment it judges
(backend.judging.stress), drawn from the responses on its safety benchmarks that the judge scored."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, insert, select
from sqlalchemy.orm import Session

from backend.api_models.judges import StressResultRead, StressTestRead
from backend.domain import Verdict
from backend.errors import NotFound
from backend.judging.stress import Rejudged
from backend.models import (
    Experiment,
    Generation,
    JudgeDefinition,
    JudgeStressTest,
    Judgment,
    Prompt,
    StressTestItem,
    StressTestVerdict,
)
from backend.repositories.rescorings import responses_on, safety_benchmarks

# How many of a judge's stress tests its page shows.
SHOWN_ON_JUDGE_PAGE = 10


def create(
    session: Session, experiment_id: int, judge_id: int, size: int, seed: int, created_by_id: int
) -> int:
    stress_test = JudgeStressTest(
        experiment_id=experiment_id, judge_id=judge_id, size=size, seed=seed, created_by_id=created_by_id
    )
    session.add(stress_test)
    session.flush()
    return stress_test.id


def _reads(session: Session, query: Select[Any]) -> list[StressTestRead]:
    """The stress tests the query selects (JudgeStressTest, joined to its judge and experiment), read."""
    rows = session.execute(
        query.add_columns(JudgeDefinition, Experiment.name)
        .join(JudgeDefinition, JudgeDefinition.id == JudgeStressTest.judge_id)
        .join(Experiment, Experiment.id == JudgeStressTest.experiment_id)
        .order_by(JudgeStressTest.id.desc())
    )
    return [
        StressTestRead(
            id=test.id,
            experiment_id=test.experiment_id,
            experiment=experiment,
            judge_id=judge.id,
            judge=str(judge.ref),
            size=test.size,
            seed=test.seed,
            status=test.status,
            progress=test.progress,
            progress_message=test.progress_message,
            error=test.error,
            created_at=test.created_at,
            finished_at=test.finished_at,
            lease_owner=test.lease_owner,
            lease_expires_at=test.lease_expires_at,
            attempts=test.attempts,
            n_judged=test.n_judged,
            seconds=test.seconds,
            result=StressResultRead.model_validate(test.result) if test.result else None,
        )
        for test, judge, experiment in rows
    ]


def of_experiment(session: Session, experiment_id: int) -> list[StressTestRead]:
    """The experiment's stress tests, newest first."""
    return _reads(session, select(JudgeStressTest).where(JudgeStressTest.experiment_id == experiment_id))


def of_judge(session: Session, judge_id: int, project_ids: Sequence[int]) -> list[StressTestRead]:
    """The judge's newest stress tests on experiments of the projects."""
    return _reads(
        session,
        select(JudgeStressTest)
        .where(JudgeStressTest.judge_id == judge_id, Experiment.project_id.in_(project_ids))
        .limit(SHOWN_ON_JUDGE_PAGE),
    )


def get(session: Session, stress_test_id: int) -> StressTestRead:
    found = _reads(session, select(JudgeStressTest).where(JudgeStressTest.id == stress_test_id))
    if not found:
        raise NotFound(f"stress test {stress_test_id} not found")
    return found[0]


def experiment_of(session: Session, stress_test_id: int) -> int | None:
    return session.scalar(select(JudgeStressTest.experiment_id).where(JudgeStressTest.id == stress_test_id))


def scored_responses(session: Session, experiment_id: int, judge_id: int) -> list[tuple[int, Verdict]]:
    """(generation id, verdict) of the experiment's responses on its safety benchmarks that the judge
    scored, in id order."""
    rows = session.execute(
        responses_on(experiment_id, safety_benchmarks(session, experiment_id))
        .add_columns(Judgment.verdict)
        .join(Judgment, and_(Judgment.generation_id == Generation.id, Judgment.judge_id == judge_id))
        .where(Judgment.verdict != Verdict.UNSCORED)
        .order_by(Generation.id)
    )
    return [(generation_id, verdict) for generation_id, verdict in rows]


def has_items(session: Session, stress_test_id: int) -> bool:
    return (
        session.scalar(
            select(StressTestItem.generation_id)
            .where(StressTestItem.stress_test_id == stress_test_id)
            .limit(1)
        )
        is not None
    )


def add_items(session: Session, stress_test_id: int, drawn: Sequence[tuple[int, Verdict]]) -> None:
    session.add_all(
        StressTestItem(stress_test_id=stress_test_id, generation_id=generation_id, verdict=verdict)
        for generation_id, verdict in drawn
    )


def items(session: Session, stress_test_id: int) -> list[tuple[int, Verdict, str, str]]:
    """The drawn responses: (generation id, the judge's verdict on it, prompt, response), in id order."""
    rows = session.execute(
        select(StressTestItem.generation_id, StressTestItem.verdict, Prompt.text, Generation.text)
        .join(Generation, Generation.id == StressTestItem.generation_id)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(StressTestItem.stress_test_id == stress_test_id)
        .order_by(StressTestItem.generation_id)
    )
    return [(generation_id, verdict, prompt, text) for generation_id, verdict, prompt, text in rows]


def judged(session: Session, stress_test_id: int) -> set[tuple[int, str]]:
    """(generation id, perturbation) of the perturbed responses already judged."""
    rows = session.execute(
        select(StressTestVerdict.generation_id, StressTestVerdict.perturbation).where(
            StressTestVerdict.stress_test_id == stress_test_id
        )
    )
    return {(generation_id, perturbation) for generation_id, perturbation in rows}


def add_verdicts(session: Session, stress_test_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Verdict rows (generation_id, perturbation and the verdict columns) of the stress test."""
    if rows:
        session.execute(
            insert(StressTestVerdict), [{"stress_test_id": stress_test_id, **row} for row in rows]
        )


def rejudged(session: Session, stress_test_id: int) -> list[Rejudged]:
    """Every perturbed response's verdict beside the verdict on its original."""
    rows = session.execute(
        select(StressTestVerdict.perturbation, StressTestItem.verdict, StressTestVerdict.verdict)
        .join(
            StressTestItem,
            and_(
                StressTestItem.stress_test_id == StressTestVerdict.stress_test_id,
                StressTestItem.generation_id == StressTestVerdict.generation_id,
            ),
        )
        .where(StressTestVerdict.stress_test_id == stress_test_id)
    )
    return [Rejudged(perturbation, before, after) for perturbation, before, after in rows]
