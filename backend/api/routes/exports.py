"""Downloads of an experiment: the long table of its judgments (CSV, Parquet), its results in the Every Eval
Ever schema and its Markdown report."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from backend.api.auth import Access, InExperiment
from backend.api.deps import AdjustmentDep, CacheDep, ExperimentId, SessionDep
from backend.domain import Role, ShareScope
from backend.services import eee_export
from backend.services import exports as service
from backend.services.report import experiment_report

router = APIRouter(prefix="/api/experiments/{experiment_id}", tags=["export"])
# No prompt or response text in the tables (prompt ids and categories, response lengths) or the report: a
# "figures and tables only" share link may download them. The EEE export leaves its texts out for one.
ReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.FIGURES))]

Stream = Callable[[sessionmaker[Session], int, dict[int, tuple]], Iterator[bytes]]


def _download(
    request: Request, session: SessionDep, experiment_id: int, stream: Stream, suffix: str, media_type: str
) -> StreamingResponse:
    settings = service.condition_settings(session, experiment_id)  # 404 before the stream starts
    return StreamingResponse(
        stream(request.app.state.session_factory, experiment_id, settings),
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="seedscope-experiment-{experiment_id}.{suffix}"'
        },
    )


_TABLE = "One row per (generation, judge); the columns are listed in docs/export.md."


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": _TABLE}},
)
def export_csv(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, request: Request
) -> StreamingResponse:
    """Every judgment of the experiment as CSV, streamed."""
    return _download(request, session, experiment_id, service.csv_stream, "csv", "text/csv; charset=utf-8")


@router.get(
    "/export.parquet",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}, "description": _TABLE}},
)
def export_parquet(
    experiment_id: ExperimentId, _: ReaderDep, session: SessionDep, request: Request
) -> StreamingResponse:
    """Every judgment of the experiment as Parquet (typed columns), streamed a row group at a time."""
    return _download(
        request, session, experiment_id, service.parquet_stream, "parquet", "application/vnd.apache.parquet"
    )


@router.get(
    "/export.eee.zip",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "data/<benchmark>/<developer>/<model>/<uuid>.json per (condition, safety "
            "benchmark), each with its <uuid>_samples.jsonl (docs/export.md)",
        },
        409: {"description": "no scored verdict on a safety benchmark yet"},
    },
)
def export_eee(
    experiment_id: ExperimentId, access: ReaderDep, session: SessionDep, cache: CacheDep, request: Request
) -> StreamingResponse:
    """The experiment's results in the Every Eval Ever schema (0.3.0): an aggregate record per condition
    and safety benchmark, and for callers who may read response text (not a "figures only" share link) the
    instance records: prompt, response and verdict per judge."""
    export = eee_export.plan(session, experiment_id, cache)  # 404 and 409 before the stream starts
    return StreamingResponse(
        eee_export.zip_stream(request.app.state.session_factory, export, with_text=access.shows_text),
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="seedscope-experiment-{experiment_id}-eee.zip"'
        },
    )


@router.get(
    "/report.md",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}, "description": "the report"}},
)
def report_markdown(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    cache: CacheDep,
    adjust: AdjustmentDep = "holm",
) -> PlainTextResponse:
    """The experiment's report in Markdown: setup, judges and their validation, every condition's rate,
    the paired comparisons, seed vs re-evaluation noise, package versions."""
    return PlainTextResponse(
        experiment_report(session, experiment_id, cache, adjust), media_type="text/markdown; charset=utf-8"
    )
