"""Experiments, their conditions and runs."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from backend.api_models.base import Page
from backend.api_models.experiments import (
    ConditionRead,
    ExperimentBenchmarkRead,
    ExperimentRead,
    ExperimentSummary,
    RunDetail,
    RunRead,
)
from backend.condition_settings import describe_conditions
from backend.domain import TERMINAL_STATUSES, JudgeJobStatus, RunStatus, SetMeasure
from backend.errors import Conflict, InvalidInput, NotFound
from backend.experiment_definition import (
    SEED_LIMIT,
    ExperimentSpec,
    StoredCondition,
    derive_seed,
)
from backend.judging.measures import metrics, set_metric
from backend.models import (
    Condition,
    Experiment,
    ExperimentBenchmark,
    ExperimentJudge,
    JudgeStressTest,
    JudgeValidation,
    Prompt,
    Rescoring,
    Run,
    owning_condition_id,
)
from backend.provenance import Provenance, TrainingRecord
from backend.repositories import rescorings
from backend.repositories.analysis import has_refusal_prefix_scores
from backend.repositories.judges import judge_read
from backend.repositories.results import rates_of_runs
from backend.repositories.validations import best_validation, experiment_judges


def primary_judge_id(session: Session, experiment_id: int) -> int:
    """The judge whose verdicts make an experiment's headline rates: the first one listed."""
    judge_id = session.scalar(
        select(ExperimentJudge.judge_id).where(
            ExperimentJudge.experiment_id == experiment_id, ExperimentJudge.position == 0
        )
    )
    if judge_id is None:
        raise NotFound(f"experiment {experiment_id} has no judge")
    return judge_id


def create_experiment(
    session: Session,
    spec: ExperimentSpec,
    *,
    project_id: int,
    benchmark_ids: Sequence[int],
    training_set_ids: Mapping[str, int],
    judge_ids: Sequence[int],
    scorer_ids: Mapping[int, int] | None = None,
) -> ExperimentRead:
    """Store the experiment with its judges (pinned definitions, in order) and one queued run per
    (condition, seed); `training_set_ids` pins each training set reference the conditions make, and
    `scorer_ids` the scorer of each capability and over-refusal set among `benchmark_ids` (by its id)."""
    scorer_ids = scorer_ids or {}
    experiment = Experiment(
        project_id=project_id,
        name=spec.name,
        description=spec.description,
        base_model=spec.base_model,
        base_model_revision=spec.base_model_revision,
        benchmark_id=benchmark_ids[0],
        benchmark_links=[
            ExperimentBenchmark(
                position=position, benchmark_id=benchmark_id, judge_id=scorer_ids.get(benchmark_id)
            )
            for position, benchmark_id in enumerate(benchmark_ids)
        ],
        training_set_id=training_set_ids[spec.training_set],
        spec=spec,
        judge_links=[
            ExperimentJudge(position=position, judge_id=judge_id)
            for position, judge_id in enumerate(judge_ids)
        ],
    )
    for position, condition in enumerate(spec.resolved_conditions()):
        experiment.conditions.append(
            _condition(position, condition, training_set_ids[condition.training_set])
        )
    session.add(experiment)
    session.flush()
    return get_experiment(session, experiment.id)


def _condition(position: int, spec: StoredCondition, training_set_id: int) -> Condition:
    """A condition with one queued run per seed."""
    return Condition(
        position=position,
        name=spec.name,
        is_baseline=not spec.finetune,
        spec=spec,
        training_set_id=training_set_id,
        runs=[_queued_run(spec, seed, added_in=0) for seed in spec.seeds],
    )


def _queued_run(spec: StoredCondition, seed: int, added_in: int) -> Run:
    """A run for `seed`: each of its four seeds follows the run seed unless the condition pins it; a run
    that trains comes with a queued evaluation of each intermediate checkpoint its condition asks for."""
    pinned = spec.pin_seeds
    seeds = {
        "seed": seed,
        "lora_init_seed": seed if pinned.lora_init is None else pinned.lora_init,
        "data_order_seed": seed if pinned.data_order is None else pinned.data_order,
        "data_subset_seed": seed if pinned.data_subset is None else pinned.data_subset,
        "sampling_seed": seed if pinned.sampling is None else pinned.sampling,
    }
    return Run(
        **seeds,
        status=RunStatus.QUEUED,
        progress_message="waiting for a worker",
        added_in=added_in,
        checkpoints=[
            Run(
                **seeds,
                checkpoint_fraction=fraction,
                status=RunStatus.QUEUED,
                progress_message="waiting for a worker",
                added_in=added_in,
            )
            for fraction in spec.checkpoint_fractions
        ],
    )


@dataclass(frozen=True)
class CheckpointRun:
    """The evaluation of an intermediate checkpoint of run `of_run_id`, at `fraction` of its training."""

    id: int
    of_run_id: int
    fraction: float
    status: RunStatus


def checkpoint_runs(session: Session, run_ids: Sequence[int]) -> list[CheckpointRun]:
    """The evaluations of those runs' intermediate checkpoints, run by run, earliest first."""
    rows = session.execute(
        select(Run.id, Run.checkpoint_of_id, Run.checkpoint_fraction, Run.status)
        .where(Run.checkpoint_of_id.in_(run_ids))
        .order_by(Run.checkpoint_of_id, Run.checkpoint_fraction)
    )
    return [
        CheckpointRun(run_id, of_run_id, fraction, status)
        for run_id, of_run_id, fraction, status in rows
        if of_run_id is not None and fraction is not None
    ]


def checkpoint_run_ids(session: Session, run_ids: Sequence[int]) -> list[int]:
    return [checkpoint.id for checkpoint in checkpoint_runs(session, run_ids)]


def training_records(session: Session, run_ids: Sequence[int]) -> dict[int, TrainingRecord]:
    """What those runs recorded of their training, for the runs that trained."""
    rows = session.execute(select(Run.id, Run.provenance).where(Run.id.in_(run_ids)))
    return {run_id: provenance.training for run_id, provenance in rows if provenance.training is not None}


def _load_experiment(session: Session, experiment_id: int) -> Experiment:
    experiment = session.scalars(
        select(Experiment)
        .where(Experiment.id == experiment_id)
        .options(selectinload(Experiment.conditions).selectinload(Condition.runs))
    ).first()
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} not found")
    return experiment


def _next_extension(experiment: Experiment) -> int:
    return 1 + max((run.added_in for c in experiment.conditions for run in c.runs), default=0)


def add_seeds(session: Session, experiment_id: int, count: int, condition_names: list[str]) -> list[int]:
    """`count` new seeds for the named fine-tuned conditions: the next integers after every seed in use.

    The same new seeds go to every named condition, so fine-tuned conditions stay paired on seeds.
    """
    experiment = _load_experiment(session, experiment_id)
    extension = _next_extension(experiment)
    first = 1 + max(run.seed for c in experiment.conditions for run in c.runs)
    new_seeds = list(range(first, first + count))
    if new_seeds[-1] > SEED_LIMIT:
        raise InvalidInput(f"{count} seeds after {first - 1} would pass the largest seed, {SEED_LIMIT}")
    added = []
    for condition in experiment.conditions:
        if condition.name not in condition_names:
            continue
        runs = [_queued_run(condition.spec, seed, extension) for seed in new_seeds]
        condition.runs.extend(runs)
        condition.spec = condition.spec.model_copy(update={"seeds": [*condition.spec.seeds, *new_seeds]})
        added.extend(runs)
    session.flush()
    return [run.id for run in added]


def fine_tuned_seeds(session: Session, experiment_id: int) -> list[int]:
    """Every seed the experiment's fine-tuned conditions run, sorted."""
    return sorted(
        session.scalars(
            select(Run.seed)
            .distinct()
            .join(Condition)
            .where(Condition.experiment_id == experiment_id, Condition.is_baseline.is_(False))
        )
    )


def add_condition(
    session: Session, experiment_id: int, spec: StoredCondition, training_set_id: int
) -> list[int]:
    """A new condition in an existing experiment, with its runs queued as the experiment's next extension."""
    experiment = _load_experiment(session, experiment_id)
    if spec.name in {c.name for c in experiment.conditions}:
        raise Conflict(f"experiment {experiment_id} already has a condition named {spec.name!r}")
    condition = _condition(len(experiment.conditions), spec, training_set_id)
    extension = _next_extension(experiment)
    for run in condition.runs:
        run.added_in = extension
    experiment.conditions.append(condition)
    session.flush()
    return [run.id for run in condition.runs]


def _run_read(run: Run, condition: Condition) -> RunRead:
    return RunRead.model_validate(
        {
            **_columns(run),
            "condition_id": condition.id,
            "condition_name": condition.name,
            "is_baseline": condition.is_baseline,
        }
    )


def _columns(row: Run) -> dict[str, object]:
    return {column.key: getattr(row, column.key) for column in Run.__table__.columns}


def _status_counts(runs: Iterable[Run | RunRead | CheckpointRun]) -> dict[str, int]:
    return dict(Counter(run.status.value for run in runs))


def get_experiment(session: Session, experiment_id: int) -> ExperimentRead:
    experiment = session.scalars(
        select(Experiment)
        .where(Experiment.id == experiment_id)
        .options(
            selectinload(Experiment.conditions).selectinload(Condition.runs),
            selectinload(Experiment.conditions).selectinload(Condition.training_set),
            selectinload(Experiment.benchmark),
            selectinload(Experiment.benchmark_links).selectinload(ExperimentBenchmark.benchmark),
            selectinload(Experiment.benchmark_links).selectinload(ExperimentBenchmark.judge),
            selectinload(Experiment.training_set),
            selectinload(Experiment.project),
            selectinload(Experiment.headline_chosen_by),
        )
    ).first()
    if experiment is None:
        raise NotFound(f"experiment {experiment_id} not found")
    runs = [_run_read(run, condition) for condition in experiment.conditions for run in condition.runs]
    judges = experiment_judges(session, experiment.id, experiment.project_id)
    benchmarks = _benchmarks(session, experiment)
    first = benchmarks[0].id if len(benchmarks) > 1 else None
    rates = rates_of_runs(session, [run.id for run in runs], judges[0].id, first)
    runs = [run.model_copy(update={"rate": rates.get(run.id)}) for run in runs]
    settings = describe_conditions([condition.spec for condition in experiment.conditions])
    return ExperimentRead(
        id=experiment.id,
        project_id=experiment.project_id,
        project=experiment.project.name,
        name=experiment.name,
        description=experiment.description,
        created_at=experiment.created_at,
        status_counts=_status_counts(runs),
        checkpoint_status_counts=_status_counts(checkpoint_runs(session, [run.id for run in runs])),
        base_model=experiment.base_model,
        base_model_revision=experiment.base_model_revision,
        benchmark_id=experiment.benchmark_id,
        benchmark=experiment.benchmark.reference,
        categories=benchmarks[0].categories,
        benchmarks=benchmarks,
        training_set=experiment.training_set.reference,
        judges=judges,
        headline_chosen_by=experiment.headline_chosen_by.email if experiment.headline_chosen_by else None,
        headline_chosen_at=experiment.headline_chosen_at,
        rescorings=rescorings.of_experiment(session, experiment.id),
        metrics=metrics(judges, _offers_refusal_prefix(session, experiment.id, runs)),
        spec=experiment.spec,
        conditions=[
            ConditionRead.model_validate(c).model_copy(update={"settings": described})
            for c, described in zip(experiment.conditions, settings, strict=True)
        ],
        runs=runs,
    )


def _offers_refusal_prefix(session: Session, experiment_id: int, runs: list[RunRead]) -> bool:
    """Whether the experiment has refusal-prefix scores, or a run that will compute them when it generates
    (runs generated before seedscope computed them have none)."""
    generating = (RunStatus.QUEUED, RunStatus.TRAINING, RunStatus.GENERATING)
    return any(run.status in generating for run in runs) or has_refusal_prefix_scores(session, experiment_id)


def _benchmarks(session: Session, experiment: Experiment) -> list[ExperimentBenchmarkRead]:
    """The experiment's benchmarks in order, each with its prompt count and categories."""
    ids = [link.benchmark_id for link in experiment.benchmark_links]
    counts: dict[int, tuple[int, list[str]]] = {}
    for benchmark_id, category, n in session.execute(
        select(Prompt.benchmark_id, Prompt.category, func.count())
        .where(Prompt.benchmark_id.in_(ids))
        .group_by(Prompt.benchmark_id, Prompt.category)
        .order_by(Prompt.category)
    ):
        total, categories = counts.get(benchmark_id, (0, []))
        counts[benchmark_id] = (total + n, [*categories, category])
    scorers = {
        link.judge.id: judge_read(link.judge).measures
        for link in experiment.benchmark_links
        if link.judge is not None
    }
    validations = {
        scorer_id: best_validation(session, scorer_id, experiment.project_id, measures)
        for scorer_id, measures in scorers.items()
    }
    return [
        ExperimentBenchmarkRead(
            id=link.benchmark_id,
            reference=link.benchmark.reference,
            n_prompts=counts.get(link.benchmark_id, (0, []))[0],
            categories=counts.get(link.benchmark_id, (0, []))[1],
            measures=link.benchmark.measures,
            scoring=link.benchmark.scoring,
            scorer_id=link.judge_id,
            scorer=str(link.judge.ref) if link.judge is not None else None,
            scorer_measures=scorers.get(link.judge.id) if link.judge is not None else None,
            scorer_validation=validations.get(link.judge.id) if link.judge is not None else None,
            measure=set_metric(SetMeasure(link.benchmark.measures), str(link.judge.ref))
            if link.judge is not None
            else None,
        )
        for link in experiment.benchmark_links
    ]


def list_experiments(
    session: Session, project_ids: Sequence[int], *, page: int, page_size: int
) -> Page[ExperimentSummary]:
    """The experiments of the given projects, newest first."""
    in_projects = Experiment.project_id.in_(project_ids)
    total = session.scalar(select(func.count()).select_from(Experiment).where(in_projects)) or 0
    experiments = session.scalars(
        select(Experiment)
        .where(in_projects)
        .order_by(Experiment.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(
            selectinload(Experiment.conditions).selectinload(Condition.runs), selectinload(Experiment.project)
        )
    ).all()
    items = [
        ExperimentSummary(
            id=e.id,
            project_id=e.project_id,
            project=e.project.name,
            name=e.name,
            description=e.description,
            created_at=e.created_at,
            status_counts=_status_counts(run for c in e.conditions for run in c.runs),
        )
        for e in experiments
    ]
    return Page[ExperimentSummary](items=items, total=total, page=page, page_size=page_size)


def _load_run(session: Session, run_id: int) -> Run:
    run = session.get(
        Run,
        run_id,
        options=[selectinload(Run.condition), selectinload(Run.checkpoint_of).selectinload(Run.condition)],
    )
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def get_run(session: Session, run_id: int) -> RunDetail:
    run = _load_run(session, run_id)
    condition = run.owning_condition
    judge_id = primary_judge_id(session, condition.experiment_id)
    siblings = session.execute(
        select(Condition.id, Condition.spec)
        .where(Condition.experiment_id == condition.experiment_id)
        .order_by(Condition.position)
    ).all()
    described = describe_conditions([spec for _, spec in siblings])
    settings = dict(zip([condition_id for condition_id, _ in siblings], described, strict=True))
    return RunDetail.model_validate(
        {
            **_run_read(run, condition).model_dump(),
            "experiment_id": condition.experiment_id,
            "provenance": run.provenance,
            "rate": rates_of_runs(session, [run.id], judge_id).get(run.id),
            "condition_settings": settings[condition.id],
        }
    )


def experiment_run_ids(session: Session, experiment_id: int) -> list[int]:
    """Every run of the experiment, its intermediate checkpoints' evaluations included."""
    if session.get(Experiment, experiment_id) is None:
        raise NotFound(f"experiment {experiment_id} not found")
    return list(
        session.scalars(
            select(Run.id)
            .join(Condition, Condition.id == owning_condition_id())
            .where(Condition.experiment_id == experiment_id)
            .order_by(Run.id)
        )
    )


def delete_experiment(session: Session, experiment_id: int) -> list[int]:
    """Delete the experiment; the database's ON DELETE CASCADE takes its conditions, runs, generations,
    judgments, prompt cells and share links. Returns the ids of the runs it had."""
    run_ids = experiment_run_ids(session, experiment_id)
    session.execute(delete(Experiment).where(Experiment.id == experiment_id))
    return run_ids


def add_reevaluations(session: Session, run_id: int, count: int) -> list[int]:
    """`count` new runs that re-evaluate run `run_id`'s checkpoint, each with its own sampling seed."""
    original = _load_run(session, run_id)
    last_index = session.scalar(
        select(func.max(Run.evaluation_index)).where(
            Run.condition_id == original.condition_id, Run.seed == original.seed
        )
    )
    repeats = [
        Run(
            condition_id=original.condition_id,
            seed=original.seed,
            lora_init_seed=original.lora_init_seed,
            data_order_seed=original.data_order_seed,
            data_subset_seed=original.data_subset_seed,
            sampling_seed=derive_seed(original.sampling_seed, index),
            evaluation_of_id=original.id,
            evaluation_index=index,
            status=RunStatus.QUEUED,
            progress_message="waiting for a worker",
        )
        for index in range((last_index or 0) + 1, (last_index or 0) + 1 + count)
    ]
    session.add_all(repeats)
    session.flush()
    return [run.id for run in repeats]


def set_status(
    session: Session,
    run_ids: Sequence[int],
    status: RunStatus,
    *,
    message: str,
    error: str | None = None,
    only_from: Iterable[RunStatus] | None = None,
) -> list[int]:
    """Move runs to `status` (those currently in `only_from`, if given); returns the ids that moved."""
    query = update(Run).where(Run.id.in_(run_ids))
    if only_from is not None:
        query = query.where(Run.status.in_(list(only_from)))
    moved = session.execute(
        query.values(status=status, progress=0.0, progress_message=message, error=error).returning(Run.id)
    )
    return sorted(moved.scalars())


def run_provenance(session: Session, experiment_id: int) -> list[Provenance]:
    """Every run's provenance (seeds, package versions, model and data hashes, device), in run order;
    empty for runs no worker has started."""
    return list(
        session.scalars(
            select(Run.provenance)
            .join(Condition)
            .where(Condition.experiment_id == experiment_id)
            .order_by(Run.id)
        )
    )


def state_of(
    session: Session, experiment_id: int
) -> tuple[
    int,
    int,
    int,
    int,
    object,
    object,
    tuple[tuple[int, str], ...],
    tuple[object, tuple[tuple[int, str, float], ...]],
]:
    """What changes whenever anything shown about the experiment does: its runs' count, summed revisions
    (every change to a run or its verdict counts moves its revision on) and unfinished count, its
    intermediate checkpoints' evaluations included; the count and newest finish of its project's
    validations of its judges (their warnings); its judges in order (one added, the headline chosen); its
    rescorings' statuses; last, their progress (the one part that moves while a rescoring judges: its pages
    leave the runs' revisions as they are, services.experiment_state) and its stress tests' statuses and
    progress (which change what the dashboard shows, not what it computes)."""
    unfinished = case((Run.status.in_([s.value for s in TERMINAL_STATUSES]), 0), else_=1)
    runs, revisions, n_unfinished = session.execute(
        select(
            func.count(Run.id),
            func.coalesce(func.sum(Run.revision), 0),
            func.coalesce(func.sum(unfinished), 0),
        )
        .join(Condition, Condition.id == owning_condition_id())
        .where(Condition.experiment_id == experiment_id)
    ).one()
    # The validations that correct its rates: of its judges, and of its scored sets' scorers.
    judged_by = (
        select(ExperimentJudge.judge_id)
        .where(ExperimentJudge.experiment_id == experiment_id)
        .union(
            select(ExperimentBenchmark.judge_id).where(
                ExperimentBenchmark.experiment_id == experiment_id, ExperimentBenchmark.judge_id.is_not(None)
            )
        )
    )
    validations, newest = session.execute(
        select(func.count(JudgeValidation.id), func.max(JudgeValidation.finished_at)).where(
            JudgeValidation.judge_id.in_(judged_by),
            JudgeValidation.project_id
            == select(Experiment.project_id).where(Experiment.id == experiment_id).scalar_subquery(),
            JudgeValidation.status == JudgeJobStatus.DONE,
        )
    ).one()
    judges = tuple(
        session.scalars(
            select(ExperimentJudge.judge_id)
            .where(ExperimentJudge.experiment_id == experiment_id)
            .order_by(ExperimentJudge.position)
        )
    )
    rescorings = session.execute(
        select(Rescoring.id, Rescoring.status, Rescoring.progress)
        .where(Rescoring.experiment_id == experiment_id)
        .order_by(Rescoring.id)
    ).all()
    statuses = tuple((rescoring_id, status) for rescoring_id, status, _ in rescorings)
    progress = tuple(progress for *_, progress in rescorings)
    # The stress tests change no statistic, only their own section: they move the state with the progress.
    stress_tests = tuple(
        session.execute(
            select(JudgeStressTest.id, JudgeStressTest.status, JudgeStressTest.progress)
            .where(JudgeStressTest.experiment_id == experiment_id)
            .order_by(JudgeStressTest.id)
        ).tuples()
    )
    return (
        int(runs),
        int(revisions),
        int(n_unfinished),
        int(validations),
        newest,
        judges,
        statuses,
        (progress, stress_tests),
    )
