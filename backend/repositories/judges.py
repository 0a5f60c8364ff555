"""Judge definitions: stored once per (project, name, version), never changed afterwards."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.api_models.judges import JudgeDefinitionRead
from backend.domain import JudgeRef
from backend.errors import NotFound
from backend.judging.definition import STORED, JudgeConfig, JudgeKind
from backend.models import ExperimentJudge, JudgeDefinition

# JudgeConfig fields with a column of their own; the rest of a configuration is in `options`.
_COLUMNS = {
    "model": "model",
    "revision": "revision",
    "endpoint": "endpoint",
    "template": "template",
    "system_template": "system_template",
    "parse": "parse_rule",
    "threshold": "threshold",
    "labels": "label_mapping",
    "max_input_tokens": "max_input_tokens",
}


def _columns(config: JudgeConfig) -> dict[str, Any]:
    settings = config.model_dump(mode="json", exclude_none=True)
    kind = settings.pop("kind")
    columns = {column: settings.pop(field, None) for field, column in _COLUMNS.items()}
    return {"kind": kind, **columns, "options": settings, "content_hash": config.content_hash()}


def _config(row: JudgeDefinition) -> JudgeConfig:
    columns = {field: getattr(row, column) for field, column in _COLUMNS.items()}
    return JudgeConfig.model_validate({"kind": row.kind, **columns, **row.options}, context=STORED)


def judge_read(row: JudgeDefinition) -> JudgeDefinitionRead:
    config = _config(row)
    return JudgeDefinitionRead(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        version=row.version,
        ref=str(row.ref),
        description=row.description,
        config=config,
        content_hash=row.content_hash,
        measures=JudgeKind(row.kind).measures,
        gives_score=config.gives_score,
        graded=config.graded,
        created_at=row.created_at,
    )


def _visible(project_ids: Sequence[int | None]) -> Any:
    """The built-in definitions, and those of the given projects."""
    return or_(JudgeDefinition.project_id.is_(None), JudgeDefinition.project_id.in_(project_ids))


def get_judge(session: Session, judge_id: int) -> JudgeDefinitionRead:
    row = session.get(JudgeDefinition, judge_id)
    if row is None:
        raise NotFound(f"judge definition {judge_id} not found")
    return judge_read(row)


def project_of_judge(session: Session, judge_id: int) -> tuple[bool, int | None]:
    """(whether it exists, its project: None for a built-in)."""
    row = session.execute(select(JudgeDefinition.project_id).where(JudgeDefinition.id == judge_id)).first()
    return (row is not None, row[0] if row is not None else None)


def find_judge(session: Session, ref: JudgeRef, project_id: int) -> JudgeDefinitionRead:
    """The definition `ref` names among the built-ins and the project's: its newest version if unpinned."""
    query = select(JudgeDefinition).where(JudgeDefinition.name == ref.name, _visible([project_id]))
    if ref.version is not None:
        query = query.where(JudgeDefinition.version == ref.version)
    row = session.scalars(query.order_by(JudgeDefinition.version.desc())).first()
    if row is None:
        known = ", ".join(judge.ref for judge in list_judges(session, [project_id]))
        raise NotFound(f"unknown judge {str(ref)!r}; known: {known or 'none'}")
    return judge_read(row)


def newest_builtin_judge(session: Session, name: str) -> JudgeDefinitionRead:
    """The newest version of a built-in definition (never a project's of the same name)."""
    row = session.scalars(
        select(JudgeDefinition)
        .where(JudgeDefinition.name == name, JudgeDefinition.project_id.is_(None))
        .order_by(JudgeDefinition.version.desc())
    ).first()
    if row is None:
        raise NotFound(f"the built-in judge {name!r} is not stored")
    return judge_read(row)


def list_judges(
    session: Session, project_ids: Sequence[int], *, newest_only: bool = True
) -> list[JudgeDefinitionRead]:
    """The built-in definitions and those of the projects, built-ins first, by name (newest version first)."""
    query = select(JudgeDefinition).where(_visible(project_ids))
    if newest_only:
        newest = (
            select(
                JudgeDefinition.project_id, JudgeDefinition.name, func.max(JudgeDefinition.version).label("v")
            )
            .group_by(JudgeDefinition.project_id, JudgeDefinition.name)
            .subquery()
        )
        query = query.join(
            newest,
            (JudgeDefinition.name == newest.c.name)
            & (JudgeDefinition.version == newest.c.v)
            & (
                (JudgeDefinition.project_id == newest.c.project_id)
                | (JudgeDefinition.project_id.is_(None) & newest.c.project_id.is_(None))
            ),
        )
    rows = session.scalars(
        query.order_by(
            JudgeDefinition.project_id.is_not(None),
            JudgeDefinition.project_id,
            JudgeDefinition.name,
            JudgeDefinition.version.desc(),
        )
    )
    return [judge_read(row) for row in rows]


def builtin_names(session: Session) -> set[str]:
    return set(session.scalars(select(JudgeDefinition.name).where(JudgeDefinition.project_id.is_(None))))


def add_definition(
    session: Session,
    *,
    project_id: int | None,
    name: str,
    description: str,
    config: JudgeConfig,
    created_by_id: int | None = None,
    version: int | None = None,
) -> tuple[JudgeDefinitionRead, bool]:
    """Store a definition as the next version of `name` in the project, unless its newest version already
    judges the same way: then that one. With `version` (the built-ins), exactly that version, or the stored
    one if it has the same content. Returns (the definition, whether it was added)."""
    same_project = (
        JudgeDefinition.project_id.is_(None)
        if project_id is None
        else JudgeDefinition.project_id == project_id
    )
    versions = select(JudgeDefinition).where(same_project, JudgeDefinition.name == name)
    if version is not None:
        versions = versions.where(JudgeDefinition.version == version)
    newest = session.scalars(versions.order_by(JudgeDefinition.version.desc())).first()
    digest = config.content_hash()
    if newest is not None and newest.content_hash == digest:
        return judge_read(newest), False
    if newest is not None and version is not None:
        raise RuntimeError(
            f"built-in judge {JudgeRef(name, version)} is stored with other settings; give it a new version"
        )
    row = JudgeDefinition(
        project_id=project_id,
        name=name,
        version=version if version is not None else (newest.version + 1 if newest is not None else 1),
        description=description,
        created_by_id=created_by_id,
        **_columns(config),
    )
    session.add(row)
    session.flush()
    return judge_read(row), True


def judges_of_experiment(session: Session, experiment_id: int) -> list[JudgeDefinitionRead]:
    """The experiment's judge definitions, in order (the first makes the headline rate)."""
    rows = session.scalars(
        select(JudgeDefinition)
        .join(ExperimentJudge, ExperimentJudge.judge_id == JudgeDefinition.id)
        .where(ExperimentJudge.experiment_id == experiment_id)
        .order_by(ExperimentJudge.position)
    )
    return [judge_read(row) for row in rows]
