from fastapi import APIRouter

from backend.api.deps import PageDep, PageSizeDep, QueueDep, RunId, SessionDep, SettingsDep
from backend.repositories import experiments as repository
from backend.repositories import results
from backend.schemas import GenerationRead, Page, ReevaluateRequest, ReevaluationsRead, RunDetail
from backend.services import experiments as service

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("/{run_id}")
def get_run(run_id: RunId, session: SessionDep) -> RunDetail:
    return repository.get_run(session, run_id)


@router.get("/{run_id}/generations")
def run_generations(
    run_id: RunId, session: SessionDep, page: PageDep = 1, page_size: PageSizeDep = 50
) -> Page[GenerationRead]:
    """Every response of the run with every judge's judgment."""
    repository.get_run(session, run_id)
    return results.generations_of_run(session, run_id, page=page, page_size=page_size)


@router.post("/{run_id}/retry")
def retry_run(run_id: RunId, session: SessionDep, queue: QueueDep) -> RunDetail:
    """Queue a failed, cancelled or stuck run again; what it already stored is kept."""
    return service.retry_run(session, queue, run_id)


@router.post("/{run_id}/reevaluate", status_code=201)
def reevaluate_run(
    run_id: RunId, request: ReevaluateRequest, session: SessionDep, queue: QueueDep, settings: SettingsDep
) -> ReevaluationsRead:
    """Repeated measurement: evaluate a done run's checkpoint `count` more times, with new sampling seeds."""
    return service.reevaluate_run(session, queue, run_id, request.count, settings)
