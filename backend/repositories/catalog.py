"""Benchmarks, training sets and validation sets: stored once per (project, name, version), identified by
content hash."""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from backend.api_models.catalog import BenchmarkRead, TrainingSetRead, ValidationSetRead
from backend.catalog.records import ExampleRecord, LabelledRecord, PromptRecord, content_hash
from backend.domain import Verdict
from backend.errors import Conflict, NotFound
from backend.models import Benchmark, Prompt, TrainingExample, TrainingSet, ValidationExample, ValidationSet

D = TypeVar("D", Benchmark, TrainingSet, ValidationSet)


def _visible(model: type[D], project_id: int | None) -> Any:
    """The built-in datasets, and the project's own."""
    return or_(model.project_id.is_(None), model.project_id == project_id)


def _find_latest(session: Session, model: type[D], reference: str, kind: str, project_id: int) -> D:
    """`name` (the newest version) or `name@version`, among the built-ins and the project's datasets;
    the project's own comes first when a built-in has the same name."""
    name, _, version = reference.partition("@")
    query = select(model).where(model.name == name, _visible(model, project_id))
    if version:
        query = query.where(model.version == version)
    row = session.scalars(
        query.order_by(model.project_id.is_(None), model.created_at.desc(), model.id.desc())
    ).first()
    if row is None:
        known = ", ".join(
            f"{r.name}@{r.version}" for r in session.scalars(select(model).where(_visible(model, project_id)))
        )
        raise NotFound(f"unknown {kind} {reference!r}; known: {known or 'none'}")
    return row


def _same_content_or_none(
    session: Session, model: type[D], project_id: int | None, name: str, version: str, digest: str, kind: str
) -> D | None:
    """The project's stored row for (name, version) if its content matches; None if there is none."""
    same_project = model.project_id.is_(None) if project_id is None else model.project_id == project_id
    existing = session.scalars(
        select(model).where(same_project, model.name == name, model.version == version)
    ).first()
    if existing is not None and existing.content_hash != digest:
        raise Conflict(f"{kind} {name}@{version} already exists with different content; use a new version")
    return existing


def _benchmark_read(session: Session, benchmark: Benchmark) -> BenchmarkRead:
    in_benchmark = Prompt.benchmark_id == benchmark.id
    categories = session.scalars(
        select(Prompt.category).where(in_benchmark).distinct().order_by(Prompt.category)
    )
    return BenchmarkRead(
        id=benchmark.id,
        project_id=benchmark.project_id,
        name=benchmark.name,
        version=benchmark.version,
        content_hash=benchmark.content_hash,
        source=benchmark.source,
        description=benchmark.description,
        n_prompts=session.scalar(select(func.count()).where(in_benchmark)) or 0,
        categories=list(categories),
    )


def _training_set_read(session: Session, training_set: TrainingSet) -> TrainingSetRead:
    return TrainingSetRead(
        id=training_set.id,
        project_id=training_set.project_id,
        name=training_set.name,
        version=training_set.version,
        content_hash=training_set.content_hash,
        source=training_set.source,
        description=training_set.description,
        n_examples=session.scalar(
            select(func.count()).where(TrainingExample.training_set_id == training_set.id)
        )
        or 0,
    )


def find_benchmark(session: Session, reference: str, project_id: int) -> BenchmarkRead:
    return _benchmark_read(session, _find_latest(session, Benchmark, reference, "benchmark", project_id))


def find_training_set(session: Session, reference: str, project_id: int) -> TrainingSetRead:
    return _training_set_read(
        session, _find_latest(session, TrainingSet, reference, "training set", project_id)
    )


def _in_projects(model: type[D], project_ids: Sequence[int]) -> Any:
    return or_(model.project_id.is_(None), model.project_id.in_(project_ids))


def list_benchmarks(session: Session, project_ids: Sequence[int]) -> list[BenchmarkRead]:
    """The built-in benchmarks and those of the given projects."""
    rows = session.scalars(
        select(Benchmark)
        .where(_in_projects(Benchmark, project_ids))
        .order_by(Benchmark.name, Benchmark.version, Benchmark.id)
    )
    return [_benchmark_read(session, row) for row in rows]


def list_training_sets(session: Session, project_ids: Sequence[int]) -> list[TrainingSetRead]:
    rows = session.scalars(
        select(TrainingSet)
        .where(_in_projects(TrainingSet, project_ids))
        .order_by(TrainingSet.name, TrainingSet.version, TrainingSet.id)
    )
    return [_training_set_read(session, row) for row in rows]


def add_benchmark(
    session: Session,
    *,
    project_id: int | None,
    name: str,
    version: str,
    source: str,
    description: str,
    records: Sequence[PromptRecord],
) -> BenchmarkRead:
    """Store a benchmark in a project (None: a built-in); the same content again under the same name and
    version is a no-op."""
    digest = content_hash(records)
    benchmark = _same_content_or_none(session, Benchmark, project_id, name, version, digest, "benchmark")
    if benchmark is None:
        prompts = [
            Prompt(position=i, external_id=r.external_id, text=r.text, category=r.category)
            for i, r in enumerate(records)
        ]
        benchmark = Benchmark(
            project_id=project_id,
            name=name,
            version=version,
            content_hash=digest,
            source=source,
            description=description,
            prompts=prompts,
        )
        session.add(benchmark)
        session.flush()
    return _benchmark_read(session, benchmark)


def add_training_set(
    session: Session,
    *,
    project_id: int | None,
    name: str,
    version: str,
    source: str,
    description: str,
    records: Sequence[ExampleRecord],
) -> TrainingSetRead:
    """Store a training set; storing the same content again under the same name and version is a no-op."""
    digest = content_hash(records)
    training_set = _same_content_or_none(
        session, TrainingSet, project_id, name, version, digest, "training set"
    )
    if training_set is None:
        examples = [
            TrainingExample(position=i, prompt=r.prompt, response=r.response) for i, r in enumerate(records)
        ]
        training_set = TrainingSet(
            project_id=project_id,
            name=name,
            version=version,
            content_hash=digest,
            source=source,
            description=description,
            examples=examples,
        )
        session.add(training_set)
        session.flush()
    return _training_set_read(session, training_set)


def _validation_set_read(session: Session, validation_set: ValidationSet) -> ValidationSetRead:
    in_set = ValidationExample.validation_set_id == validation_set.id
    n_examples, n_harmful = session.execute(
        select(func.count(), func.sum(case((ValidationExample.label == Verdict.HARMFUL, 1), else_=0))).where(
            in_set
        )
    ).one()
    return ValidationSetRead(
        id=validation_set.id,
        project_id=validation_set.project_id,
        name=validation_set.name,
        version=validation_set.version,
        content_hash=validation_set.content_hash,
        source=validation_set.source,
        description=validation_set.description,
        measures=validation_set.measures,
        n_examples=n_examples or 0,
        n_harmful=n_harmful or 0,
        categories=list(
            session.scalars(
                select(ValidationExample.category)
                .where(in_set)
                .distinct()
                .order_by(ValidationExample.category)
            )
        ),
    )


def find_validation_set(session: Session, reference: str, project_id: int) -> ValidationSetRead:
    return _validation_set_read(
        session, _find_latest(session, ValidationSet, reference, "validation set", project_id)
    )


def get_validation_set(session: Session, validation_set_id: int) -> ValidationSetRead:
    row = session.get(ValidationSet, validation_set_id)
    if row is None:
        raise NotFound(f"validation set {validation_set_id} not found")
    return _validation_set_read(session, row)


def list_validation_sets(session: Session, project_ids: Sequence[int]) -> list[ValidationSetRead]:
    rows = session.scalars(
        select(ValidationSet)
        .where(_in_projects(ValidationSet, project_ids))
        .order_by(ValidationSet.project_id.is_not(None), ValidationSet.name, ValidationSet.version)
    )
    return [_validation_set_read(session, row) for row in rows]


def add_validation_set(
    session: Session,
    *,
    project_id: int | None,
    name: str,
    version: str,
    source: str,
    description: str,
    measures: str,
    records: Sequence[LabelledRecord],
) -> ValidationSetRead:
    """Store a validation set; the same content again under the same name and version is a no-op."""
    digest = content_hash(records)
    validation_set = _same_content_or_none(
        session, ValidationSet, project_id, name, version, digest, "validation set"
    )
    if validation_set is not None and validation_set.measures != measures:
        raise Conflict(
            f"validation set {name}@{version} already exists with labels of {validation_set.measures}; "
            "use a new version"
        )
    if validation_set is None:
        validation_set = ValidationSet(
            project_id=project_id,
            name=name,
            version=version,
            content_hash=digest,
            source=source,
            description=description,
            measures=measures,
            examples=[
                ValidationExample(
                    position=i,
                    external_id=r.external_id,
                    request=r.request,
                    response=r.response,
                    label=r.label,
                    category=r.category,
                )
                for i, r in enumerate(records)
            ],
        )
        session.add(validation_set)
        session.flush()
    return _validation_set_read(session, validation_set)
