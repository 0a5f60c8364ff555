"""Datasets of every kind (backend.catalog.kinds): stored once per (project, name, version), identified by
content hash."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, with_parent

from backend.api_models.catalog import DatasetRead
from backend.catalog.kinds import DatasetKind, R, Read
from backend.catalog.records import ExampleRecord, content_hash
from backend.errors import Conflict, NotFound
from backend.models import Dataset, Prompt, TrainingExample


def _visible(kind: DatasetKind[Any, Any], project_ids: Sequence[int]) -> Any:
    """The built-in datasets, and the projects' own."""
    return or_(kind.model.project_id.is_(None), kind.model.project_id.in_(project_ids))


def _read(session: Session, kind: DatasetKind[Any, Read], row: Dataset) -> Read:
    """The row's columns, those its kind adds, and what its kind counts of its items."""
    items = kind.item_model
    in_dataset = with_parent(row, kind.items)
    tallies = (func.sum(case((condition, 1), else_=0)) for condition in kind.tallies.values())
    query = select(func.count(), *tallies).select_from(items).where(in_dataset)
    count, *tallied = session.execute(query).one()
    columns = (*DatasetRead.model_fields, *kind.attributes, *kind.recorded)
    fields: dict[str, Any] = {name: getattr(row, name) for name in columns}
    fields[kind.count] = count
    fields.update(zip(kind.tallies, (n or 0 for n in tallied), strict=True))
    if kind.categories:
        query = select(items.category).where(in_dataset).distinct().order_by(items.category)
        fields["categories"] = list(session.scalars(query))
    return kind.read_model(**fields)


def get(session: Session, kind: DatasetKind[Any, Read], dataset_id: int) -> Read:
    row = session.get(kind.model, dataset_id)
    if row is None:
        raise NotFound(f"{kind.name} {dataset_id} not found")
    return _read(session, kind, row)


def find(session: Session, kind: DatasetKind[Any, Read], reference: str, project_id: int) -> Read:
    """`name` (the newest version) or `name@version`, among the built-ins and the project's datasets;
    the project's own comes first when a built-in has the same name."""
    model = kind.model
    name, _, version = reference.partition("@")
    visible = _visible(kind, [project_id])
    query = select(model).where(model.name == name, visible)
    if version:
        query = query.where(model.version == version)
    row = session.scalars(
        query.order_by(model.project_id.is_(None), model.created_at.desc(), model.id.desc())
    ).first()
    if row is None:
        known = ", ".join(f"{r.name}@{r.version}" for r in session.scalars(select(model).where(visible)))
        raise NotFound(f"unknown {kind.name} {reference!r}; known: {known or 'none'}")
    return _read(session, kind, row)


def list_datasets(session: Session, kind: DatasetKind[Any, Read], project_ids: Sequence[int]) -> list[Read]:
    """The built-in datasets of a kind, then those of the given projects, by name and version."""
    model = kind.model
    rows = session.scalars(
        select(model)
        .where(_visible(kind, project_ids))
        .order_by(model.project_id.is_not(None), model.name, model.version, model.id)
    )
    return [_read(session, kind, row) for row in rows]


def _row(
    session: Session, kind: DatasetKind[Any, Any], project_id: int | None, name: str, version: str
) -> Dataset | None:
    """The project's (None: the built-ins') row for (name, version), if stored."""
    model = kind.model
    same_project = model.project_id.is_(None) if project_id is None else model.project_id == project_id
    return session.scalars(
        select(model).where(same_project, model.name == name, model.version == version)
    ).first()


def stored(
    session: Session, kind: DatasetKind[Any, Read], project_id: int | None, name: str, version: str
) -> Read | None:
    """The project's (None: the built-ins') dataset `name@version`, if stored."""
    row = _row(session, kind, project_id, name, version)
    return None if row is None else _read(session, kind, row)


def _same_content_or_none(
    session: Session,
    kind: DatasetKind[Any, Any],
    project_id: int | None,
    name: str,
    version: str,
    digest: str,
    attributes: Mapping[str, str],
) -> Dataset | None:
    """The project's stored row for (name, version) if its content (and the columns its kind adds) match;
    None if there is none."""
    existing = _row(session, kind, project_id, name, version)
    if existing is None:
        return None
    if existing.content_hash != digest:
        raise Conflict(
            f"{kind.name} {name}@{version} already exists with different content; use a new version"
        )
    for column, words in kind.attributes.items():
        if getattr(existing, column) != attributes[column]:
            raise Conflict(
                f"{kind.name} {name}@{version} already exists with {words} {getattr(existing, column)}; "
                "use a new version"
            )
    return existing


def add(
    session: Session,
    kind: DatasetKind[R, Read],
    *,
    project_id: int | None,
    name: str,
    version: str,
    source: str,
    description: str,
    records: Sequence[R],
    attributes: Mapping[str, str] | None = None,
    recorded: Mapping[str, Any] | None = None,
) -> Read:
    """Store a dataset in a project (None: a built-in), with the values of the columns its kind adds (its
    attributes, and how it was made: `recorded`, kept from the first store); the same content again under
    the same name and version is a no-op."""
    attributes = {**kind.attribute_defaults, **(attributes or {})}
    digest = content_hash(records)
    row = _same_content_or_none(session, kind, project_id, name, version, digest, attributes)
    if row is None:
        items = [kind.item_model(position=i, **vars(record)) for i, record in enumerate(records)]
        row = kind.model(
            project_id=project_id,
            name=name,
            version=version,
            content_hash=digest,
            source=source,
            description=description,
            **{column: attributes[column] for column in kind.attributes},
            **(recorded or {}),
            **{kind.items.key: items},
        )
        session.add(row)
        session.flush()
    return _read(session, kind, row)


def prompt_ids(session: Session, benchmark_id: int) -> dict[str, int]:
    """A benchmark's prompt ids by their external ids."""
    rows = session.execute(select(Prompt.external_id, Prompt.id).where(Prompt.benchmark_id == benchmark_id))
    return {external_id: prompt_id for external_id, prompt_id in rows}


def training_examples(session: Session, training_set_id: int) -> list[ExampleRecord]:
    """A training set's examples in order."""
    rows = session.execute(
        select(TrainingExample.prompt, TrainingExample.response)
        .where(TrainingExample.training_set_id == training_set_id)
        .order_by(TrainingExample.position)
    )
    return [ExampleRecord(prompt, response) for prompt, response in rows]
