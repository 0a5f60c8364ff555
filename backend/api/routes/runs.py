from typing import Annotated

from fastapi import APIRouter, Depends

from backend.api.auth import Access, InRun
from backend.api.deps import PageDep, PageSizeDep, QueueDep, RunId, SessionDep, SettingsDep
from backend.api_models.base import Page
from backend.api_models.experiments import ReevaluateRequest, ReevaluationsRead, RunDetail
from backend.api_models.responses import GenerationRead
from backend.domain import Role, ShareScope
from backend.repositories import experiments as repository
from backend.repositories import results
from backend.services import experiments as service

router = APIRouter(prefix="/api/runs", tags=["runs"])

ReaderDep = Annotated[Access, Depends(InRun(Role.VIEWER, share=ShareScope.FIGURES))]
TextReaderDep = Annotated[Access, Depends(InRun(Role.VIEWER, share=ShareScope.RESPONSES))]
EditorDep = Annotated[Access, Depends(InRun(Role.EDITOR))]


@router.get("/{run_id}")
def get_run(run_id: RunId, _: ReaderDep, session: SessionDep) -> RunDetail:
    return repository.get_run(session, run_id)


@router.get("/{run_id}/generations")
def run_generations(
    run_id: RunId, _: TextReaderDep, session: SessionDep, page: PageDep = 1, page_size: PageSizeDep = 50
) -> Page[GenerationRead]:
    """Every response of the run with every judge's judgment."""
    return results.generations_of_run(session, run_id, page=page, page_size=page_size)


@router.post("/{run_id}/retry")
def retry_run(run_id: RunId, _: EditorDep, session: SessionDep, queue: QueueDep) -> RunDetail:
    """Queue a failed, cancelled or stuck run again; what it already stored is kept."""
    return service.retry_run(session, queue, run_id)


@router.post("/{run_id}/reevaluate", status_code=201)
def reevaluate_run(
    run_id: RunId,
    request: ReevaluateRequest,
    _: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ReevaluationsRead:
    """Repeated measurement: evaluate a done run's checkpoint `count` more times, with new sampling seeds."""
    return service.reevaluate_run(session, queue, run_id, request.count, settings)
