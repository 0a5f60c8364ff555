"""Submitting, cancelling and retrying experiments and runs."""

import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.api_models.catalog import BenchmarkRead, TrainingSetRead
from backend.api_models.experiments import ExperimentRead, ReevaluationsRead, RunDetail
from backend.api_models.judges import JudgeDefinitionRead
from backend.catalog.base_models import check_model_reference, local_model_path
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.config import Settings
from backend.domain import TERMINAL_STATUSES, JudgeRef, RunStatus, SetMeasure
from backend.errors import Conflict, InvalidInput, NotFound
from backend.experiment_definition import (
    ConditionSpec,
    ExperimentSpec,
    StoredCondition,
    check_baselines,
    check_evaluation,
    check_holdouts,
    grid_factors,
    grid_shape,
)
from backend.jobs import RUNS
from backend.judging.builtins import DEFAULT_JUDGE, REFERENCE_SCORER
from backend.judging.definition import REFERENCE_PLACEHOLDER, Measured
from backend.judging.reference import Scoring
from backend.limits import enforce
from backend.models import utcnow
from backend.queue import TaskQueue
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as repository
from backend.repositories import judges as judge_repository
from backend.repositories import leases
from backend.services import jobs
from backend.services.documents import parse_yaml
from backend.services.holdout import held_out_set, trainable_examples
from backend.services.judges import check_judges_safety_benchmarks, check_operator_rules


def parse_yaml_spec(text: str) -> ExperimentSpec:
    """An ExperimentSpec from YAML text, with the parser's or the validator's message on failure."""
    return parse_yaml(text, ExperimentSpec, "experiment", "name, benchmark, seeds, conditions, ...")


def count_runs(conditions: Sequence[StoredCondition]) -> int:
    """The runs a definition queues: one per condition and seed, and one per intermediate checkpoint of
    each run that trains (training.evaluate_at)."""
    return sum(len(condition.seeds) * condition.runs_per_seed for condition in conditions)


def check_size(spec: ExperimentSpec, settings: Settings) -> None:
    """The configured limits on seeds per condition and runs per experiment (every run is queued at once),
    intermediate checkpoints' evaluations counted as runs."""
    conditions = spec.resolved_conditions()
    for condition in conditions:
        enforce(
            settings,
            "max_seeds_per_condition",
            len(condition.seeds),
            f"the number of seeds of condition {condition.name!r}",
        )
    factors = grid_factors(conditions)
    grid = f"; the grid {grid_shape(factors)} makes {sum(c.levels is not None for c in conditions)} of them"
    checkpoints = "; each checkpoint in training.evaluate_at counts as a run"
    enforce(
        settings,
        "max_runs_per_experiment",
        count_runs(conditions),
        "the number of runs (seeds summed over conditions"
        + (grid if factors else "")
        + (checkpoints if any(c.checkpoint_fractions for c in conditions) else "")
        + ")",
    )


@dataclass(frozen=True)
class References:
    """What a definition names, resolved: training sets by the reference its conditions make."""

    # In the definition's order: the safety benchmarks (the first is the dashboard's default), then the
    # capability and over-refusal sets.
    benchmarks: list[BenchmarkRead]
    training_sets: dict[str, TrainingSetRead]
    judges: list[JudgeDefinitionRead]
    # The scorer of each capability and over-refusal set, by the set's id.
    scorers: dict[int, JudgeDefinitionRead]
    # The training sets that conditions hold a share of out of training (training.holdout), with the share.
    holdouts: list[tuple[TrainingSetRead, float]]


def check_base_model(reference: str, settings: Settings) -> None:
    """InvalidInput unless the model reference is well formed and, if a local path, under the model roots."""
    try:
        check_model_reference(reference)
        local_model_path(reference, settings.resolved_model_roots)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def find_training_set(session: Session, reference: str, project_id: int) -> TrainingSetRead:
    try:
        return catalog_repository.find(session, TRAINING_SETS, reference, project_id)
    except NotFound as error:
        # A wrong name in the submitted definition is bad input, not a missing URL.
        raise InvalidInput(str(error)) from None


def check_references(
    session: Session, spec: ExperimentSpec, project_id: int, settings: Settings
) -> References:
    """The spec's base models, benchmark, training sets and judges exist (among the built-ins and the
    project's own) and the operator's settings allow them (a local model path under the model roots, the
    judges' endpoints and keys); InvalidInput says which does not. Judges named without a version resolve
    to their newest."""
    conditions = spec.resolved_conditions()
    for model, _ in spec.base_models():
        check_base_model(model, settings)
    training_sets = {
        reference: find_training_set(session, reference, project_id)
        for reference in dict.fromkeys([spec.training_set, *(c.training_set for c in conditions)])
    }
    try:
        benchmarks = [
            _evaluation_set(session, reference, measures, project_id)
            for reference, measures in spec.evaluation_sets()
        ]
        judges = [
            judge_repository.find_judge(session, JudgeRef.parse(name), project_id) for name in spec.judges
        ]
    except NotFound as error:
        # A wrong name in the submitted definition is bad input, not a missing URL.
        raise InvalidInput(str(error)) from None
    pinned = [judge.ref for judge in judges]
    if len(set(pinned)) != len(pinned):
        raise InvalidInput(f"judges {spec.judges} name the same definition twice ({', '.join(pinned)})")
    for judge in judges:
        check_judges_safety_benchmarks(judge)
    if len({benchmark.id for benchmark in benchmarks}) != len(benchmarks):
        raise InvalidInput(f"benchmarks {spec.benchmarks} name the same dataset twice")
    for judge in judges:
        check_operator_rules(judge.config, judge.project_id, settings)
    for condition in conditions:
        _check_subset(condition, training_sets[condition.training_set])
    scorers = {
        benchmark.id: scorer_of(session, benchmark, judges, project_id, settings)
        for benchmark in benchmarks
        if benchmark.measures != SetMeasure.HARM
    }
    held_out = dict.fromkeys(c.holdout for c in conditions if c.holdout is not None)
    holdouts = [(training_sets[reference], fraction) for reference, fraction in held_out]
    return References(benchmarks, training_sets, judges, scorers, holdouts)


def _evaluation_set(session: Session, reference: str, measures: SetMeasure, project_id: int) -> BenchmarkRead:
    """The set a definition names under what it measures; InvalidInput when the set measures otherwise."""
    found = catalog_repository.find(session, BENCHMARKS, reference, project_id)
    if found.measures != measures:
        listed_under = {SetMeasure.HARM: "benchmarks", SetMeasure.CAPABILITY: "capability"}
        raise InvalidInput(
            f"{found.name}@{found.version} measures {found.measures.value}, not {measures.value}: list it "
            f"under `{listed_under.get(found.measures, found.measures.value)}`"
        )
    return found


def scorer_of(
    session: Session,
    evaluation_set: BenchmarkRead,
    judges: list[JudgeDefinitionRead],
    project_id: int,
    settings: Settings,
) -> JudgeDefinitionRead:
    """Who scores a capability set (the reference-answer scorer, or the judge its rule names: `judge:<name>`)
    or an over-refusal set (the experiment's first refusal judge, else the built-in default one: a harm
    judge's "safe" is not a refusal). InvalidInput when a named grading judge is missing or reads no
    reference."""
    if evaluation_set.measures == SetMeasure.CAPABILITY:
        rule = Scoring.parse(evaluation_set.scoring)
        if rule.judge is None:
            return judge_repository.newest_builtin_judge(session, REFERENCE_SCORER)
        where = f"{evaluation_set.name}@{evaluation_set.version} is scored by judge {rule.judge}"
        try:
            grader = judge_repository.find_judge(session, rule.judge, project_id)
        except NotFound as error:
            raise InvalidInput(f"{where}: {error}") from None
        if not grader.config.grades_against_references:
            raise InvalidInput(
                f"{where}, whose template has no {REFERENCE_PLACEHOLDER}: a grading judge reads the "
                "reference answer it grades against"
            )
        check_operator_rules(grader.config, grader.project_id, settings)
        return grader
    refusal = next((judge for judge in judges if judge.measures == Measured.COMPLIANCE), None)
    return refusal or judge_repository.newest_builtin_judge(session, DEFAULT_JUDGE)


def _check_subset(condition: StoredCondition, training_set: TrainingSetRead) -> None:
    """The condition's subset fits in what it may train on: the training set, less its held-out split."""
    if not condition.trains:
        return
    subset = condition.training.subset_size
    trainable = trainable_examples(training_set, condition.training.holdout)
    if subset is not None and subset > trainable:
        held_out = training_set.n_examples - trainable
        raise InvalidInput(
            f"condition {condition.name!r}: training.subset_size {subset} exceeds the "
            f"{trainable} examples of {training_set.name}@{training_set.version}"
            + (f" it may train on ({held_out} are held out)" if held_out else "")
        )


def submit(
    session: Session, queue: TaskQueue, spec: ExperimentSpec, settings: Settings, project_id: int
) -> ExperimentRead:
    """Validate size and references, store the experiment, its pinned judges and its runs in the project,
    commit, then enqueue every run."""
    check_size(spec, settings)
    references = check_references(session, spec, project_id, settings)
    judges = references.judges
    # Stored with its judges pinned to the versions resolved now, so a re-submission judges alike.
    pinned = spec.model_copy(update={"judges": [judge.ref for judge in judges]})
    # Every run answers each held-out split too, as a capability set after the named ones.
    named = [benchmark.id for benchmark in references.benchmarks]
    held_out = [
        held_out_set(session, settings, training_set, fraction, project_id)
        for training_set, fraction in references.holdouts
    ]
    scorers = references.scorers | {
        s.id: scorer_of(session, s, judges, project_id, settings) for s in held_out
    }
    experiment = repository.create_experiment(
        session,
        pinned,
        project_id=project_id,
        benchmark_ids=named + [s.id for s in held_out if s.id not in named],
        training_set_ids={reference: found.id for reference, found in references.training_sets.items()},
        judge_ids=[judge.id for judge in judges],
        scorer_ids={benchmark_id: scorer.id for benchmark_id, scorer in scorers.items()},
    )
    session.commit()
    # The runs that train first: an evaluation-only run, and an intermediate checkpoint's evaluation, waits
    # for its checkpoint (worker.tasks).
    evaluating = {c.id for c in experiment.conditions if c.spec.evaluates is not None}
    ordered = sorted(experiment.runs, key=lambda run: run.condition_id in evaluating)
    _send_runs(session, queue, [run.id for run in ordered])
    return repository.get_experiment(session, experiment.id)


def _send_runs(session: Session, queue: TaskQueue, run_ids: list[int]) -> None:
    """Send new runs' tasks, then their intermediate checkpoints' evaluations, which wait for them."""
    jobs.send(session, queue, RUNS, run_ids + repository.checkpoint_run_ids(session, run_ids))


def _check_extension(
    session: Session,
    settings: Settings,
    experiment: ExperimentRead,
    seeds_after: dict[str, int],
    added_conditions: Sequence[StoredCondition] = (),
) -> None:
    """The limits on seeds per condition and runs per experiment, counting the runs an extension adds
    (intermediate checkpoints' evaluations included) to the conditions, existing or `added_conditions`,
    named in `seeds_after`."""
    for name, seeds in seeds_after.items():
        enforce(settings, "max_seeds_per_condition", seeds, f"the number of seeds of condition {name!r}")
    specs = {c.name: c.spec for c in experiment.conditions} | {c.name: c for c in added_conditions}
    seeds_now = {c.name: len(c.spec.seeds) for c in experiment.conditions}
    added = sum(
        (seeds - seeds_now.get(name, 0)) * specs[name].runs_per_seed for name, seeds in seeds_after.items()
    )
    enforce(
        settings,
        "max_runs_per_experiment",
        len(repository.experiment_run_ids(session, experiment.id)) + added,
        f"the number of runs of experiment {experiment.id} with the {added} this extension adds",
    )


def _check_runs_here(experiment: ExperimentRead) -> None:
    """InvalidInput for an imported experiment: it has no model to run and no judge to judge new responses."""
    if not experiment.runs_here:
        raise InvalidInput(
            f"experiment {experiment.id} was imported: it runs nothing here; import new results as a new "
            "experiment"
        )


def add_seeds(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    experiment_id: int,
    count: int,
    condition: str | None,
) -> ExperimentRead:
    """Extend an experiment with `count` new training seeds for every fine-tuned condition, or one.

    The new runs join the same analysis; they are marked as the experiment's next extension.
    """
    experiment = repository.get_experiment(session, experiment_id)
    fine_tuned = [c.name for c in experiment.conditions if not c.is_baseline]
    if condition is not None:
        chosen = next((c for c in experiment.conditions if c.name == condition), None)
        if chosen is None:
            raise InvalidInput(f"no condition named {condition!r} in experiment {experiment_id}")
        if chosen.is_baseline:
            raise InvalidInput(f"{condition!r} is the untuned baseline: it has no training seed to add")
        if chosen.spec.evaluates is not None:
            raise InvalidInput(
                f"{condition!r} evaluates {chosen.spec.evaluates!r}'s checkpoints: add seeds to that "
                "condition, and its evaluations follow"
            )
        evaluations = [c.name for c in experiment.conditions if c.spec.evaluates == condition]
        fine_tuned = [condition, *evaluations]
    if not fine_tuned:
        raise InvalidInput(f"experiment {experiment_id} has no fine-tuned condition to add seeds to")
    seeds_now = {c.name: len(c.spec.seeds) for c in experiment.conditions}
    _check_extension(session, settings, experiment, {name: seeds_now[name] + count for name in fine_tuned})
    new_ids = repository.add_seeds(session, experiment_id, count, fine_tuned)
    session.commit()
    _send_runs(session, queue, new_ids)
    return repository.get_experiment(session, experiment_id)


def add_condition(
    session: Session, queue: TaskQueue, settings: Settings, experiment_id: int, condition: ConditionSpec
) -> ExperimentRead:
    """Extend an experiment with a new condition; its runs join the same analysis.

    Without seeds of its own it runs the seeds the fine-tuned conditions use, so it pairs with them.
    """
    if condition.levels is not None:
        raise InvalidInput(
            f"condition {condition.name!r}: a condition added later is not part of the experiment's grid; "
            "leave out its levels"
        )
    experiment = repository.get_experiment(session, experiment_id)
    _check_runs_here(experiment)
    existing = [c.spec for c in experiment.conditions]
    try:
        check_evaluation(condition, existing)
        source = next((spec for spec in existing if spec.name == condition.evaluates), None)
        stored = experiment.spec.resolve(
            condition, repository.fine_tuned_seeds(session, experiment_id), source
        )
        check_baselines([*existing, stored])
        check_holdouts([*existing, stored])
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    if stored.holdout is not None and stored.holdout not in {c.holdout for c in existing}:
        held_out_of, fraction = stored.holdout
        raise InvalidInput(
            f"condition {condition.name!r} holds out {fraction:g} of {held_out_of}, a split this experiment "
            "is not evaluated on: a condition added later may hold out only what its conditions already do"
        )
    check_base_model(stored.base_model, settings)
    # An evaluation-only condition trains on nothing: it keeps its source's pinned training set.
    training_set_id = next(
        (c.training_set_id for c in experiment.conditions if c.name == condition.evaluates), None
    )
    if training_set_id is None:
        training_set = find_training_set(session, stored.training_set, experiment.project_id)
        _check_subset(stored, training_set)
        training_set_id = training_set.id
    _check_extension(session, settings, experiment, {condition.name: len(stored.seeds)}, [stored])
    new_ids = repository.add_condition(session, experiment_id, stored, training_set_id)
    session.commit()
    _send_runs(session, queue, new_ids)
    return repository.get_experiment(session, experiment_id)


def cancel_experiment(session: Session, experiment_id: int) -> ExperimentRead:
    """Cancel every run that has not finished; workers stop at their next checkpoint."""
    run_ids = repository.experiment_run_ids(session, experiment_id)
    repository.set_status(
        session,
        run_ids,
        RunStatus.CANCELLED,
        message="cancelled by the user",
        only_from=set(RunStatus) - TERMINAL_STATUSES,
    )
    session.commit()
    return repository.get_experiment(session, experiment_id)


def delete_experiment(session: Session, settings: Settings, experiment_id: int) -> None:
    """Delete the experiment with its runs, generations, judgments, prompt cells and share links (the
    database cascades), and its runs' adapter folders. Unfinished runs are cancelled first, so a worker
    that is still on one stops at its next checkpoint (it finds the run gone and gives up)."""
    cancel_experiment(session, experiment_id)
    run_ids = repository.delete_experiment(session, experiment_id)
    session.commit()
    for run_id in run_ids:
        shutil.rmtree(settings.run_artifacts_dir(run_id), ignore_errors=True)


def resume_experiment(session: Session, queue: TaskQueue, experiment_id: int) -> ExperimentRead:
    """Queue again every run that is neither done nor cancelled and that no worker holds.

    For runs left behind by a killed worker (the sweep also finds them, once their lease expires) or failed.
    Runs that are still queued are sent again too: the broker may have lost their message, and a second
    message for a run is dropped by the worker that gets it. Cancelled runs stay cancelled (retry one to
    run it again); runs a worker holds are left to it.
    """
    run_ids = repository.experiment_run_ids(session, experiment_id)
    now = utcnow()
    moved = leases.requeue_for_resume(session, RUNS, run_ids, now)
    session.commit()
    if not moved and (busy := leases.live_leases(session, RUNS, run_ids, now)):
        raise Conflict(
            f"nothing to resume in experiment {experiment_id}: its unfinished runs are being worked on: "
            f"{leases.describe_live(RUNS, busy)}"
        )
    jobs.send(session, queue, RUNS, moved)
    return repository.get_experiment(session, experiment_id)


def reevaluate_run(
    session: Session, queue: TaskQueue, run_id: int, count: int, settings: Settings
) -> ReevaluationsRead:
    """Queue `count` repeated evaluations of a finished run's checkpoint, each with a new sampling seed."""
    run = repository.get_run(session, run_id)
    _check_runs_here(repository.get_experiment(session, run.experiment_id))
    existing = len(repository.experiment_run_ids(session, run.experiment_id))
    enforce(
        settings,
        "max_runs_per_experiment",
        existing + count,
        f"the number of runs of experiment {run.experiment_id} with {count} more re-evaluations",
    )
    if run.evaluation_of_id is not None:
        raise InvalidInput(f"run {run_id} is itself a re-evaluation; re-evaluate run {run.evaluation_of_id}")
    if run.checkpoint_of_id is not None:
        raise InvalidInput(
            f"run {run_id} evaluates run {run.checkpoint_of_id}'s checkpoint at {run.checkpoint_fraction:g} "
            "of its training: re-evaluations repeat final checkpoints only"
        )
    if run.status != RunStatus.DONE:
        raise Conflict(
            f"run {run_id} is {run.status.value}; only a done run's checkpoint can be re-evaluated"
        )
    new_ids = repository.add_reevaluations(session, run_id, count)
    session.commit()
    jobs.send(session, queue, RUNS, new_ids)
    conditions = repository.get_experiment(session, run.experiment_id).conditions
    generation = next(c.spec.generation for c in conditions if c.id == run.condition_id)
    warning = None
    if generation.temperature == 0:
        warning = (
            "this condition decodes greedily (temperature 0): re-evaluations repeat the original answers "
            "unless the hardware is non-deterministic, so they measure no sampling noise"
        )
    return ReevaluationsRead(
        runs=[repository.get_run(session, new_id) for new_id in new_ids], warning=warning
    )


def retry_run(session: Session, queue: TaskQueue, run_id: int) -> RunDetail:
    """Queue a run again from where its stored results stop (backend.services.jobs.retry)."""
    jobs.retry(session, queue, RUNS, run_id)
    return repository.get_run(session, run_id)
