"""The dashboard's default views, computed once per state of an experiment and stored.

At a million judgments the analysis (permutation tests, generalized intervals, sizing) takes seconds
(bench/dashboard_latency.py), and the in-memory memo (backend.services.cache) is empty on the first view
after new data and in every other API process. So the worker computes the default views when a run
(or a rescoring) finishes (`precompute`) and stores them in analysis_snapshots, on each of the experiment's
benchmarks (its safety benchmarks, capability and over-refusal sets); the API serves a snapshot when it was
computed from the runs' current state by the same code, or, while a run is being judged or a judge added
later judges the stored responses (verdicts arrive batch by batch), the latest one, marked stale: the
figures then move when the judging finishes rather than on every batch. Any other view (chosen pairs,
another adjustment, another flips condition, the mean-score metric) is computed on
request and memoised as before.
"""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.api_models.experiments import ExperimentRead
from backend.domain import JudgeJobStatus, RunStatus
from backend.repositories import snapshots as repository
from backend.services import analysis, full_analysis
from backend.services import figures as figure_service
from backend.services.cache import AnalysisCache

# A view of an experiment on one of its benchmarks ("name@version"; None: the first).
View = Callable[[Session, AnalysisCache, int, str | None], dict[str, Any]]

# Every default view, by name. The flips heatmap has a variant without prompt text for a "figures and
# tables only" share link.
VIEWS: dict[str, View] = {
    "analysis": lambda s, c, i, b: full_analysis.analyse(s, i, c, benchmark=b).model_dump(mode="json"),
    "figure:seeds": lambda s, c, i, b: figure_service.seeds(s, c, i, benchmark=b),
    "figure:noise": lambda s, c, i, b: figure_service.noise(s, c, i, benchmark=b),
    "figure:forest": lambda s, c, i, b: figure_service.forest(s, c, i, [], "holm", benchmark=b),
    "figure:categories": lambda s, c, i, b: figure_service.categories(s, c, i, b),
    "figure:flips": lambda s, c, i, b: figure_service.flips(s, c, i, None, 60, with_text=True, benchmark=b),
    "figure:flips:no-text": lambda s, c, i, b: figure_service.flips(
        s, c, i, None, 60, with_text=False, benchmark=b
    ),
    "figure:variance": lambda s, c, i, b: figure_service.variance(s, c, i, benchmark=b),
    "figure:power": lambda s, c, i, b: figure_service.power(s, c, i, benchmark=b),
    "figure:setup-spread": lambda s, c, i, b: figure_service.setup_spread(s, c, i, benchmark=b),
}


def _stored_as(view: str, experiment: ExperimentRead, benchmark: str | None) -> tuple[str, str | None]:
    """The snapshot's name for a view on a benchmark (the view's own name on the first), and the benchmark
    as the view is computed on it (None for the first); InvalidInput when the experiment has no such one."""
    chosen = analysis.benchmark_of(experiment, benchmark)
    if chosen.id == experiment.benchmarks[0].id:
        return view, None
    return f"{view} on benchmark {chosen.id}", chosen.reference


def _code_fingerprint() -> str:
    """A hash of the backend's source: what computes the views. A snapshot stored by other code (before an
    upgrade, or a fix of the statistics) is not current, whatever the runs' state."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


CODE_FINGERPRINT = _code_fingerprint()


def _state_key(data: analysis.ExperimentData) -> str:
    return hashlib.sha256(f"{CODE_FINGERPRINT} {data.state!r}".encode()).hexdigest()


def serve(
    session: Session, cache: AnalysisCache, experiment_id: int, view: str, benchmark: str | None = None
) -> dict[str, Any]:
    """The default view on a benchmark (default: the first): its snapshot when current (or stale while a
    run is judged), else computed and stored. A stale analysis says so (`stale`)."""
    data = analysis.load(session, experiment_id, cache)
    key = _state_key(data)
    name, benchmark = _stored_as(view, data.experiment, benchmark)
    snapshot = repository.stored(session, experiment_id, name)
    if snapshot is not None:
        stored_key, payload = snapshot
        if stored_key == key:
            return payload
        if _verdicts_arriving(data.experiment):
            return {**payload, "stale": True} if view == "analysis" else payload
    payload = VIEWS[view](session, cache, experiment_id, benchmark)
    repository.store(session, experiment_id, name, key, payload)
    session.commit()
    return payload


def _verdicts_arriving(experiment: ExperimentRead) -> bool:
    """A run is being judged or a rescoring is judging: verdicts arrive batch by batch."""
    return any(run.status == RunStatus.JUDGING for run in experiment.runs) or any(
        rescoring.status == JudgeJobStatus.RUNNING for rescoring in experiment.rescorings
    )


def precompute(session: Session, experiment_id: int, cache: AnalysisCache | None = None) -> None:
    """Compute and store every default view of the experiment's current state on each of its benchmarks
    (the worker, after a run)."""
    cache = cache or AnalysisCache()
    data = analysis.load(session, experiment_id, cache)
    key = _state_key(data)
    for evaluation_set in data.experiment.benchmarks:
        for view, build in VIEWS.items():
            name, benchmark = _stored_as(view, data.experiment, evaluation_set.reference)
            repository.store(
                session, experiment_id, name, key, build(session, cache, experiment_id, benchmark)
            )
    session.commit()
