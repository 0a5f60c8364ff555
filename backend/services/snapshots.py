"""The dashboard's default views, computed once per state of an experiment and stored.

At a million judgments the analysis (permutation tests, generalized intervals, sizing) takes seconds
(bench/dashboard_latency.py), and the in-memory memo (backend.services.cache) is empty on the first view
after new data and in every other API process. So the worker computes the default views when a run
finishes (`precompute`) and stores them in analysis_snapshots; the API serves a snapshot when it was
computed from the runs' current state, or, while a run is being judged (its verdicts arrive batch by
batch), the latest one, marked stale: the figures then move when a run finishes rather than on every
batch. Any other view (chosen pairs, another adjustment, another flips condition, the mean-score metric)
is computed on request and memoised as before.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from backend.domain import RunStatus
from backend.repositories import snapshots as repository
from backend.services import analysis, full_analysis
from backend.services import figures as figure_service
from backend.services.cache import AnalysisCache

View = Callable[[Session, AnalysisCache, int], dict[str, Any]]

# Every default view, by name. The flips heatmap has a variant without prompt text for a "figures and
# tables only" share link.
VIEWS: dict[str, View] = {
    "analysis": lambda s, c, i: full_analysis.analyse(s, i, c).model_dump(mode="json"),
    "figure:seeds": figure_service.seeds,
    "figure:noise": figure_service.noise,
    "figure:forest": lambda s, c, i: figure_service.forest(s, c, i, [], "holm"),
    "figure:categories": figure_service.categories,
    "figure:flips": lambda s, c, i: figure_service.flips(s, c, i, None, 60, with_text=True),
    "figure:flips:no-text": lambda s, c, i: figure_service.flips(s, c, i, None, 60, with_text=False),
    "figure:variance": figure_service.variance,
    "figure:power": figure_service.power,
    "figure:setup-spread": figure_service.setup_spread,
}


def _state_key(data: analysis.ExperimentData) -> str:
    return hashlib.sha256(repr(data.state).encode()).hexdigest()


def serve(session: Session, cache: AnalysisCache, experiment_id: int, view: str) -> dict[str, Any]:
    """The default view: its snapshot when current (or stale while a run is judged), else computed and
    stored. A stale analysis says so (`stale`)."""
    data = analysis.load(session, experiment_id, cache)
    key = _state_key(data)
    snapshot = repository.stored(session, experiment_id, view)
    if snapshot is not None:
        stored_key, payload = snapshot
        if stored_key == key:
            return payload
        if any(run.status == RunStatus.JUDGING for run in data.experiment.runs):
            return {**payload, "stale": True} if view == "analysis" else payload
    payload = VIEWS[view](session, cache, experiment_id)
    repository.store(session, experiment_id, view, key, payload)
    session.commit()
    return payload


def precompute(session: Session, experiment_id: int, cache: AnalysisCache | None = None) -> None:
    """Compute and store every default view of the experiment's current state (the worker, after a run)."""
    cache = cache or AnalysisCache()
    key = _state_key(analysis.load(session, experiment_id, cache))
    for view, build in VIEWS.items():
        repository.store(session, experiment_id, view, key, build(session, cache, experiment_id))
    session.commit()
