"""Stored dashboard views (analysis_snapshots): one row per experiment and view, for one state of its runs."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import dialect_insert
from backend.models import AnalysisSnapshot, utcnow


def stored(session: Session, experiment_id: int, view: str) -> tuple[str, dict[str, Any]] | None:
    """(state key, payload) of the view's snapshot, or None."""
    row = session.execute(
        select(AnalysisSnapshot.state_key, AnalysisSnapshot.payload).where(
            AnalysisSnapshot.experiment_id == experiment_id, AnalysisSnapshot.view == view
        )
    ).first()
    return None if row is None else (row[0], row[1])


def store(session: Session, experiment_id: int, view: str, state_key: str, payload: dict[str, Any]) -> None:
    """Insert or replace the view's snapshot (two writers of the same state write the same payload)."""
    statement = dialect_insert(session)(AnalysisSnapshot).values(
        experiment_id=experiment_id, view=view, state_key=state_key, payload=payload, computed_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["experiment_id", "view"],
            set_={name: statement.excluded[name] for name in ("state_key", "payload", "computed_at")},
        )
    )
