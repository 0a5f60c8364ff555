"""The worker's reads and writes for runs (a judge validation's are in worker.validation).

Every write is idempotent on a natural key, so work done twice is stored once, and every write goes through
the run's lease (worker.lease.JobStore._hold): it renews the lease in the same transaction and refuses,
writing nothing, when another worker has taken the run or the user cancelled it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.api_models.catalog import TrainingSetRead
from backend.api_models.judges import JudgeDefinitionRead
from backend.catalog.derived import DERIVED_VERSION, SELF_WRITTEN
from backend.catalog.kinds import TRAINING_SETS
from backend.catalog.records import ExampleRecord
from backend.db import insert_ignoring_duplicates
from backend.domain import RunStatus
from backend.errors import Conflict
from backend.experiment_definition import StoredCondition
from backend.jobs import RUNS
from backend.models import (
    Benchmark,
    Condition,
    Experiment,
    ExperimentBenchmark,
    Generation,
    Judgment,
    Prompt,
    RefusalPrefixScore,
    Run,
    TrainingSet,
    owning_condition_id,
    utcnow,
)
from backend.provenance import Provenance, SelfWrittenResponses
from backend.repositories import catalog as catalog_repository
from backend.repositories import judges as judge_repository
from backend.repositories.cells import add_judgments
from backend.repositories.judges import judges_of_experiment
from worker.coherence import Coherence
from worker.generation import GeneratedText
from worker.judges.base import JudgeResult
from worker.judges.batches import verdict_columns
from worker.judges.replies import DatabaseReplies
from worker.lease import JobStore, Lease


@dataclass(frozen=True)
class Unjudged:
    """A generation still to judge: its prompt and response, and the set's reference answer and scoring
    rule where it is a capability set's."""

    generation_id: int
    prompt: str
    response: str
    reference: str
    scoring: str


@dataclass(frozen=True)
class JudgeScope:
    """A judge definition, and the sets whose responses it judges (their ids)."""

    definition: JudgeDefinitionRead
    benchmark_ids: tuple[int, ...]


@dataclass(frozen=True)
class RunContext:
    """Everything a task needs about its run, read once at the start."""

    run_id: int
    experiment_id: int
    # The experiment's project: where a derived training set of the run's goes.
    project_id: int
    is_baseline: bool
    # The run whose fine-tuned checkpoint this run evaluates: itself, unless it is a repeated measurement
    # (the run it repeats), the evaluation of an intermediate checkpoint (the run that trains it) or its
    # condition evaluates another's checkpoints (that one's run of its seed).
    checkpoint_run_id: int
    # Which of that run's checkpoints: the fraction of its training (training.evaluate_at), None for the
    # final one.
    checkpoint_fraction: float | None
    condition: StoredCondition
    base_model: str
    base_model_revision: str | None
    # Who judges what: the experiment's judges its safety benchmarks, each capability and over-refusal set
    # its scorer; a definition doing both appears once.
    judging: list[JudgeScope]
    lora_init_seed: int
    data_order_seed: int
    data_subset_seed: int
    sampling_seed: int
    # The experiment's benchmarks, in order, and their content hashes: the run answers every one's prompts.
    benchmark_ids: list[int]
    benchmark_hashes: list[str]
    # Its safety benchmarks (those the experiment's judges judge): the run's refusal-prefix scores are on
    # their prompts.
    safety_benchmark_ids: list[int]
    training_set_id: int
    training_set_name: str
    training_set_version: str
    training_set_hash: str


def _judge_scopes(
    session: Session, experiment_id: int, benchmarks: Sequence[Row[int, str, int | None]]
) -> list[JudgeScope]:
    """The experiment's judges over its safety benchmarks (those without a scorer), then each scorer over
    its sets, merged by definition."""
    safety = tuple(benchmark_id for benchmark_id, _, scorer in benchmarks if scorer is None)
    scopes = {judge.id: (judge, safety) for judge in judges_of_experiment(session, experiment_id)}
    for benchmark_id, _, scorer in benchmarks:
        if scorer is not None:
            judge, scoped = scopes.get(scorer) or (judge_repository.get_judge(session, scorer), ())
            scopes[scorer] = (judge, (*scoped, benchmark_id))
    return [JudgeScope(judge, scoped) for judge, scoped in scopes.values() if scoped]


def _checkpoint_run_id(session: Session, run: Run, condition: Condition) -> int:
    """The run that trains the adapter `run` generates with (see RunContext.checkpoint_run_id); a run of an
    evaluation-only condition whose source has no run of its seed gets its own id (and no adapter)."""
    if condition.spec.evaluates is None:
        return run.checkpoint_of_id or run.evaluation_of_id or run.id
    source = session.scalar(
        select(Run.id)
        .join(Condition, Run.condition_id == Condition.id)
        .where(
            Condition.experiment_id == condition.experiment_id,
            Condition.name == condition.spec.evaluates,
            Run.seed == run.seed,
            Run.evaluation_index == 0,
        )
    )
    return source if source is not None else run.id


class RunStore(JobStore[Run]):
    """A run's reads, and its writes under the run's lease."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(RUNS, sessions)

    def session(self) -> Session:
        """A session on the store's database for work beside a run's (the dashboard's snapshots)."""
        return self._sessions()

    def context(self, run_id: int) -> RunContext | None:
        """None if the run no longer exists (its experiment was deleted)."""
        with self._sessions() as session:
            row = session.execute(
                select(Run, Condition, Experiment, TrainingSet)
                .select_from(Run)
                .join(Condition, owning_condition_id() == Condition.id)
                .join(Experiment, Condition.experiment_id == Experiment.id)
                .join(TrainingSet, Condition.training_set_id == TrainingSet.id)
                .where(Run.id == run_id)
            ).first()
            if row is None:
                return None
            run, condition, experiment, training_set = row
            benchmarks = session.execute(
                select(Benchmark.id, Benchmark.content_hash, ExperimentBenchmark.judge_id)
                .join(ExperimentBenchmark, ExperimentBenchmark.benchmark_id == Benchmark.id)
                .where(ExperimentBenchmark.experiment_id == experiment.id)
                .order_by(ExperimentBenchmark.position)
            ).all()
            return RunContext(
                run_id=run.id,
                experiment_id=experiment.id,
                project_id=experiment.project_id,
                is_baseline=condition.is_baseline,
                checkpoint_run_id=_checkpoint_run_id(session, run, condition),
                checkpoint_fraction=run.checkpoint_fraction,
                condition=condition.spec,
                base_model=condition.spec.base_model,
                base_model_revision=condition.spec.base_model_revision,
                judging=_judge_scopes(session, experiment.id, benchmarks),
                lora_init_seed=run.lora_init_seed,
                data_order_seed=run.data_order_seed,
                data_subset_seed=run.data_subset_seed,
                sampling_seed=run.sampling_seed,
                benchmark_ids=[benchmark_id for benchmark_id, _, _ in benchmarks],
                benchmark_hashes=[content_hash for _, content_hash, _ in benchmarks],
                safety_benchmark_ids=[benchmark for benchmark, _, scorer in benchmarks if scorer is None],
                training_set_id=training_set.id,
                training_set_name=training_set.name,
                training_set_version=training_set.version,
                training_set_hash=training_set.content_hash,
            )

    # --- the run's status ----------------------------------------------------------------------------

    def start_stage(self, lease: Lease, status: RunStatus) -> None:
        with self._sessions.begin() as session:
            run = self._hold(session, lease)
            run.status, run.progress, run.progress_message = status, 0.0, f"{status.value} started"
            run.error = None
            run.started_at = run.started_at or utcnow()

    def progress(self, lease: Lease, fraction: float, message: str) -> None:
        """Record progress (renewing the lease); raises JobCancelled or LeaseLost when the run is not ours."""
        with self._sessions.begin() as session:
            run = self._hold(session, lease)
            run.progress, run.progress_message = min(max(fraction, 0.0), 1.0), message

    def finish_stage(self, lease: Lease, stage: RunStatus, seconds: float) -> None:
        with self._sessions.begin() as session:
            run = self._hold(session, lease)
            run.timings = {**run.timings, stage.value: round(seconds, 2)}
            run.progress, run.progress_message = 1.0, f"{stage.value} finished"

    def finish_run(self, lease: Lease) -> None:
        """Mark the run done and release it, unless it is no longer ours."""
        with self._sessions.begin() as session:
            self._hold(session, lease)
            self._finish(session, lease)

    def add_provenance(self, lease: Lease, sections: Provenance) -> None:
        """Record the sections `sections` has, replacing the run's earlier record of them."""
        with self._sessions.begin() as session:
            run = self._hold(session, lease)
            run.provenance = run.provenance.with_sections(sections)

    def provenance(self, run_id: int) -> Provenance:
        with self._sessions() as session:
            return session.scalar(select(Run.provenance).where(Run.id == run_id)) or Provenance()

    def checkpoint_pending(self, run_id: int) -> int | None:
        """The run whose adapter `run_id` waits for while that run has yet to train it (queued or training);
        None when the run trains its own, or its checkpoint's run is past training (done, failed,
        cancelled: generating then says whether the adapter is there)."""
        with self._sessions() as session:
            row = session.execute(
                select(Run, Condition)
                .select_from(Run)
                .join(Condition, owning_condition_id() == Condition.id)
                .where(Run.id == run_id)
            ).first()
            if row is None:
                return None
            checkpoint = _checkpoint_run_id(session, *row)
            if checkpoint == run_id:
                return None
            status = session.scalar(select(Run.status).where(Run.id == checkpoint))
            return checkpoint if status in (RunStatus.QUEUED, RunStatus.TRAINING) else None

    def trained_run_ids(self, limit: int) -> list[int]:
        """The newest done runs that trained an adapter (not baselines, not re-evaluations, not the runs of
        a condition that evaluates another's checkpoints)."""
        with self._sessions() as session:
            rows = session.execute(
                select(Run.id, Condition.spec)
                .join(Condition, Run.condition_id == Condition.id)
                .where(
                    Run.status == RunStatus.DONE,
                    Run.evaluation_of_id.is_(None),
                    Condition.is_baseline.is_(False),
                )
                .order_by(Run.id.desc())
                .limit(limit)
            )
            return [run_id for run_id, spec in rows if spec.evaluates is None]

    # --- inputs ----------------------------------------------------------------------------------

    def prompts(self, benchmark_ids: Sequence[int]) -> list[tuple[int, str]]:
        """(id, text) of the benchmarks' prompts, benchmark by benchmark, each in its order."""
        with self._sessions() as session:
            return [
                (prompt_id, text)
                for benchmark_id in benchmark_ids
                for prompt_id, text in session.execute(
                    select(Prompt.id, Prompt.text)
                    .where(Prompt.benchmark_id == benchmark_id)
                    .order_by(Prompt.position)
                )
            ]

    def training_examples(self, training_set_id: int) -> list[ExampleRecord]:
        with self._sessions() as session:
            return catalog_repository.training_examples(session, training_set_id)

    def derived_training_set(self, project_id: int, name: str) -> TrainingSetRead | None:
        """The project's derived training set of that name (backend.catalog.derived), if stored."""
        with self._sessions() as session:
            return catalog_repository.stored(session, TRAINING_SETS, project_id, name, DERIVED_VERSION)

    def add_derived_training_set(
        self,
        lease: Lease,
        project_id: int,
        name: str,
        examples: Sequence[ExampleRecord],
        derivation: SelfWrittenResponses,
    ) -> TrainingSetRead:
        """Store a derived training set in the project, in one transaction; if another run stored one of
        that name first (they raced to write the same answers), that one, which every run then trains on."""
        source = derivation.source
        description = (
            f"The prompts of {source.name}@{source.version} with {derivation.base_model.reference}'s own "
            f"answers as the responses (training.responses: self), written by run "
            f"{derivation.created_by_run}."
        )
        try:
            with self._sessions.begin() as session:
                self._hold(session, lease)
                return catalog_repository.add(
                    session,
                    TRAINING_SETS,
                    project_id=project_id,
                    name=name,
                    version=DERIVED_VERSION,
                    source=SELF_WRITTEN,
                    description=description,
                    records=examples,
                    recorded={"derivation": derivation},
                )
        except (IntegrityError, Conflict):
            winner = self.derived_training_set(project_id, name)
            if winner is None:
                raise
            return winner

    # --- results ---------------------------------------------------------------------------------

    def generated_keys(self, run_id: int) -> set[tuple[int, int]]:
        """(prompt id, sample index) of every stored generation of the run."""
        with self._sessions() as session:
            rows = session.execute(
                select(Generation.prompt_id, Generation.sample_index).where(Generation.run_id == run_id)
            )
            return {(prompt_id, sample) for prompt_id, sample in rows}

    def count_generations(self, run_id: int) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).where(Generation.run_id == run_id)) or 0

    def count_prompts(self, benchmark_ids: Sequence[int]) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).where(Prompt.benchmark_id.in_(benchmark_ids))) or 0

    def has_unjudged(self, run_id: int, scopes: Sequence[JudgeScope]) -> bool:
        """True if some generation of the run lacks a judgment by a judge of its set."""
        with self._sessions() as session:
            return any(
                session.scalar(select(exists(self._unjudged_query(run_id, scope)))) for scope in scopes
            )

    def add_generations(
        self, lease: Lease, generated: Sequence[GeneratedText], coherence: Sequence[Coherence]
    ) -> None:
        """Store one batch with each response's coherence in one transaction; rows already there (a re-run)
        are left as they are."""
        rows = [
            {
                "run_id": lease.job_id,
                "prompt_id": g.item.prompt_id,
                "sample_index": g.item.sample_index,
                "text": g.text,
                "n_new_tokens": g.n_new_tokens,
                "coherence": c.log_likelihood,
                "incoherent": c.incoherent,
                "created_at": utcnow(),
            }
            for g, c in zip(generated, coherence, strict=True)
        ]
        with self._sessions.begin() as session:
            self._hold(session, lease)
            insert_ignoring_duplicates(session, Generation, rows, ["run_id", "prompt_id", "sample_index"])

    def refusal_prefix_prompt_ids(self, run_id: int, openings: str) -> set[int]:
        """The prompts the run has a refusal-prefix score on, with the phrase set `openings`."""
        with self._sessions() as session:
            return set(
                session.scalars(
                    select(RefusalPrefixScore.prompt_id).where(
                        RefusalPrefixScore.run_id == run_id, RefusalPrefixScore.openings == openings
                    )
                )
            )

    def add_refusal_prefix_scores(
        self, lease: Lease, openings: str, scores: Iterable[tuple[int, float]]
    ) -> None:
        """Store (prompt id, score) of one batch in one transaction; scores already there are kept."""
        rows = [
            {
                "run_id": lease.job_id,
                "prompt_id": prompt_id,
                "openings": openings,
                "probability": probability,
                "created_at": utcnow(),
            }
            for prompt_id, probability in scores
        ]
        with self._sessions.begin() as session:
            self._hold(session, lease)
            insert_ignoring_duplicates(session, RefusalPrefixScore, rows, ["run_id", "prompt_id", "openings"])

    @property
    def replies(self) -> DatabaseReplies:
        """The LLM judges' reply cache."""
        return DatabaseReplies(self._sessions)

    def unjudged(self, run_id: int, scope: JudgeScope) -> list[Unjudged]:
        """The run's generations on the scope's sets that its judge has not judged."""
        with self._sessions() as session:
            rows = session.execute(self._unjudged_query(run_id, scope).order_by(Generation.id))
            return [Unjudged(*row) for row in rows]

    @staticmethod
    def _unjudged_query(run_id: int, scope: JudgeScope) -> Any:
        judge_id = scope.definition.id
        return (
            select(Generation.id, Prompt.text, Generation.text, Prompt.reference, Benchmark.scoring)
            .join(Prompt, Prompt.id == Generation.prompt_id)
            .join(Benchmark, Benchmark.id == Prompt.benchmark_id)
            .outerjoin(Judgment, and_(Judgment.generation_id == Generation.id, Judgment.judge_id == judge_id))
            .where(
                Generation.run_id == run_id,
                Prompt.benchmark_id.in_(scope.benchmark_ids),
                Judgment.id.is_(None),
            )
        )

    def add_judgments(self, lease: Lease, judge_id: int, judged: Iterable[tuple[int, JudgeResult]]) -> None:
        """Store judgments (ignoring ones already there) and recount the run's prompt cells, atomically."""
        with self._sessions.begin() as session:
            self._hold(session, lease)
            add_judgments(session, judge_id, judgment_rows(judged))


def judgment_rows(judged: Iterable[tuple[int, JudgeResult]]) -> list[dict[str, Any]]:
    """Judgment rows (without the judge) for (generation id, verdict) pairs."""
    return [
        {"generation_id": generation_id, **verdict_columns(result), "created_at": utcnow()}
        for generation_id, result in judged
    ]
