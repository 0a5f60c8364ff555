from typing import Annotated

from fastapi import APIRouter, Body, Request, status

from backend.api.deps import ExperimentId, PageDep, PageSizeDep, QueueDep, SessionDep, SettingsDep
from backend.repositories import experiments as repository
from backend.schemas import ExperimentRead, ExperimentSummary, Page
from backend.services import experiments as service
from backend.specs import ExperimentSpec

router = APIRouter(prefix="/api/experiments", tags=["experiments"])

_YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}}},
        "description": "An experiment definition in YAML: the fields of POST /api/experiments.",
    }
}


@router.get("")
def list_experiments(
    session: SessionDep, page: PageDep = 1, page_size: PageSizeDep = 50
) -> Page[ExperimentSummary]:
    return repository.list_experiments(session, page=page, page_size=page_size)


@router.post("", status_code=status.HTTP_201_CREATED)
def submit_experiment(
    spec: Annotated[ExperimentSpec, Body()], session: SessionDep, queue: QueueDep, settings: SettingsDep
) -> ExperimentRead:
    """Store the experiment and queue one run per (condition, seed)."""
    return service.submit(session, queue, spec, settings)


@router.post("/yaml", status_code=status.HTTP_201_CREATED, openapi_extra=_YAML_BODY)
async def submit_experiment_yaml(
    request: Request, session: SessionDep, queue: QueueDep, settings: SettingsDep
) -> ExperimentRead:
    """Like POST /api/experiments, with the definition as a YAML document."""
    spec = service.parse_yaml_spec((await request.body()).decode("utf-8", errors="replace"))
    return service.submit(session, queue, spec, settings)


@router.get("/{experiment_id}")
def get_experiment(experiment_id: ExperimentId, session: SessionDep) -> ExperimentRead:
    return repository.get_experiment(session, experiment_id)


@router.post("/{experiment_id}/cancel")
def cancel_experiment(experiment_id: ExperimentId, session: SessionDep) -> ExperimentRead:
    return service.cancel_experiment(session, experiment_id)


@router.post("/{experiment_id}/resume")
def resume_experiment(experiment_id: ExperimentId, session: SessionDep, queue: QueueDep) -> ExperimentRead:
    """Queue every unfinished run again (after a worker crash, say); stored results are kept."""
    return service.resume_experiment(session, queue, experiment_id)
