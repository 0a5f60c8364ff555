"""Judged results made elsewhere stored as an evaluation-only experiment: the samples' inputs as a
benchmark, the scorer as a judge of kind `imported` (its labels the user's mapping), one untuned condition
per model (or value of the column named), one done run per epoch (or seed), the outputs as responses and the
scorer's values as verdicts. All in one transaction: a refused file stores nothing."""

import re

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.api_models.experiments import ExperimentRead
from backend.api_models.imports import EeeInstancesImport, ExperimentImport, InspectSamplesImport
from backend.catalog.builtin import BENIGN_DEMO
from backend.catalog.files import DatasetFormatError
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.catalog.records import DEFAULT_CATEGORY, PromptRecord
from backend.catalog.uploads import check_file, check_items
from backend.config import Settings
from backend.domain import RunStatus, Verdict
from backend.errors import InvalidInput
from backend.experiment_definition import CONDITION_NAME_LENGTH, ConditionSpec, ExperimentSpec, GenerationSpec
from backend.imports.eee_instances import read_eee_instances
from backend.imports.inspect_samples import read_inspect_samples
from backend.imports.results import ImportedResults
from backend.judging.definition import JudgeConfig, JudgeKind
from backend.models import Generation, Run, utcnow
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as repository
from backend.repositories import judges as judge_repository
from backend.repositories.cells import add_judgments
from backend.services.experiments import check_size

# An experiment names a training set; an imported one trains nothing, so it names the built-in one, as a
# definition with only untuned conditions does.
UNUSED_TRAINING_SET = f"{BENIGN_DEMO.name}@{BENIGN_DEMO.version}"


def _name(value: str, allowed: str, length: int) -> str:
    """`value` with every character outside `allowed` (a character class's body) made "-"."""
    return re.sub(f"[^{allowed}]", "-", value)[:length].lstrip("-_.+= ") or "-"


def _condition_names(results: ImportedResults) -> dict[str, str]:
    """Each condition value's name as a condition (ConditionSpec.name); InvalidInput when two values make
    one name."""
    names: dict[str, str] = {}
    for value in dict.fromkeys(row.condition for row in results.rows):
        name = _name(value, r"A-Za-z0-9_.\-+= ", CONDITION_NAME_LENGTH)
        if clash := next((other for other, taken in names.items() if taken == name), None):
            raise InvalidInput(f"conditions {clash!r} and {value!r} both make the condition name {name!r}")
        names[value] = name
    return names


def _spec(request: ExperimentImport, results: ImportedResults, benchmark: str, judge: str) -> ExperimentSpec:
    names = _condition_names(results)
    epochs: dict[str, list[int]] = {}
    models: dict[str, set[str]] = {}
    for row in results.rows:
        epochs.setdefault(row.condition, [])
        if row.epoch not in epochs[row.condition]:
            epochs[row.condition].append(row.epoch)
        models.setdefault(row.condition, set()).add(row.model)
    conditions = [
        {
            "name": names[value],
            "finetune": False,
            # Its model where the file gives one, else the condition's value.
            "base_model": next(iter(models[value])) if len(models[value]) == 1 else value,
            "seeds": sorted(seeds),
        }
        for value, seeds in epochs.items()
    ]
    try:
        return ExperimentSpec(
            name=request.name,
            description=request.description,
            # Every condition names its own; the first one's is the experiment's.
            base_model=conditions[0]["base_model"],
            benchmark=benchmark,
            training_set=UNUSED_TRAINING_SET,
            judges=[judge],
            seeds=sorted({row.epoch for row in results.rows}),
            # Where a file holds several samples per prompt and run, as many as its most.
            generation=GenerationSpec(samples_per_prompt=results.samples_per_prompt()),
            conditions=[ConditionSpec.model_validate(condition) for condition in conditions],
        )
    except ValidationError as error:
        raise InvalidInput(f"the imported experiment: {error.errors()[0]['msg']}") from None


def _read(request: ExperimentImport) -> ImportedResults:
    """The file's results, by its format's reader; InvalidInput naming the line or row and the field."""
    try:
        if isinstance(request, EeeInstancesImport):
            return read_eee_instances(request.content, request.scores(), request.evaluation_result)
        return read_inspect_samples(request.content, request.columns(), request.labels())
    except DatasetFormatError as error:
        raise InvalidInput(f"results file not readable as {request.format}: {error}") from None


def import_experiment(
    session: Session, settings: Settings, request: ExperimentImport, project_id: int, user_id: int
) -> ExperimentRead:
    """Read, check and store the file as an experiment of the project whose runs are done, and commit."""
    check_file(settings, "the results file", request.content, csv=isinstance(request, InspectSamplesImport))
    results = _read(request)
    check_items(settings, "rows", len(results.rows))
    prompts = [
        PromptRecord(external_id=sample_id, text=text, category=DEFAULT_CATEGORY)
        for sample_id, text in results.prompts().items()
    ]
    BENCHMARKS.check(prompts, settings)
    benchmark = catalog_repository.add(
        session,
        BENCHMARKS,
        project_id=project_id,
        name=request.benchmark,
        version=request.benchmark_version,
        source=request.format,
        description=f"The inputs of the samples imported into experiment {request.name!r}.",
        records=prompts,
    )
    judge, _ = judge_repository.add_definition(
        session,
        project_id=project_id,
        name=_name(f"imported-{results.scorer}", r"A-Za-z0-9_.\-", 100),
        description=f"The verdicts of {results.described}, imported.",
        config=JudgeConfig(kind=JudgeKind.IMPORTED, labels=request.labels()),
        created_by_id=user_id,
    )
    spec = _spec(request, results, f"{benchmark.name}@{benchmark.version}", judge.ref)
    check_size(spec, settings)
    training_set = catalog_repository.find(session, TRAINING_SETS, UNUSED_TRAINING_SET, project_id)
    experiment = repository.create_experiment(
        session,
        spec,
        project_id=project_id,
        benchmark_ids=[benchmark.id],
        training_set_ids={UNUSED_TRAINING_SET: training_set.id},
        judge_ids=[judge.id],
    )
    _store_results(session, experiment, results, judge.id, request.format)
    session.commit()
    return repository.get_experiment(session, experiment.id)


def _store_results(
    session: Session, experiment: ExperimentRead, results: ImportedResults, judge_id: int, format: str
) -> None:
    """Each row's output as a response of its condition's run of its epoch, judged by the file's value;
    every run done."""
    names = _condition_names(results)
    condition_ids = {c.name: c.id for c in experiment.conditions}
    runs = {(run.condition_id, run.seed): run.id for run in experiment.runs}
    prompt_ids = catalog_repository.prompt_ids(session, experiment.benchmark_id)
    generations = [
        Generation(
            run_id=runs[condition_ids[names[row.condition]], row.epoch],
            prompt_id=prompt_ids[row.sample_id],
            sample_index=row.sample_index,
            text=row.output,
            n_new_tokens=0,
        )
        for row in results.rows
    ]
    session.add_all(generations)
    session.flush()
    add_judgments(
        session,
        judge_id,
        [
            {
                "generation_id": generation.id,
                "verdict": row.verdict,
                "score": None,
                "output": row.value,
                "details": {"unscored": f"no {results.scorer} in the file"}
                if row.verdict == Verdict.UNSCORED
                else {"imported": {results.scorer: row.value}},
            }
            for generation, row in zip(generations, results.rows, strict=True)
        ],
    )
    now = utcnow()
    session.execute(
        update(Run)
        .where(Run.id.in_(list(runs.values())))
        .values(
            status=RunStatus.DONE,
            progress=1.0,
            progress_message=f"imported from {format}",
            started_at=now,
            finished_at=now,
        )
    )
