from typing import Annotated

from fastapi import APIRouter, Body, Request, status

from backend.api.deps import CacheDep, PageDep, PageSizeDep, QueueDep, SessionDep
from backend.repositories import experiments as repository
from backend.schemas import AddSeedsRequest, ExperimentRead, ExperimentSummary, Page, PlanRead
from backend.services import experiments as service
from backend.services import planning
from backend.specs import ConditionSpec, ExperimentSpec

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
    spec: Annotated[ExperimentSpec, Body()], session: SessionDep, queue: QueueDep
) -> ExperimentRead:
    """Store the experiment and queue one run per (condition, seed)."""
    return service.submit(session, queue, spec)


@router.post("/yaml", status_code=status.HTTP_201_CREATED, openapi_extra=_YAML_BODY)
async def submit_experiment_yaml(request: Request, session: SessionDep, queue: QueueDep) -> ExperimentRead:
    """Like POST /api/experiments, with the definition as a YAML document."""
    spec = service.parse_yaml_spec((await request.body()).decode("utf-8", errors="replace"))
    return service.submit(session, queue, spec)


@router.post("/plan")
def plan_experiment(
    spec: Annotated[ExperimentSpec, Body()], session: SessionDep, cache: CacheDep
) -> PlanRead:
    """What a drafted experiment would run, and the smallest difference it could detect (from the noise of
    an earlier experiment on the same base model and benchmark). Stores nothing."""
    return planning.plan(session, cache, spec)


@router.get("/{experiment_id}")
def get_experiment(experiment_id: int, session: SessionDep) -> ExperimentRead:
    return repository.get_experiment(session, experiment_id)


@router.post("/{experiment_id}/seeds", status_code=status.HTTP_201_CREATED)
def add_seeds(
    experiment_id: int, request: AddSeedsRequest, session: SessionDep, queue: QueueDep
) -> ExperimentRead:
    """Extend the experiment with more training seeds (every fine-tuned condition, or one); the new runs
    join the same analysis, marked as added later."""
    return service.add_seeds(session, queue, experiment_id, request.count, request.condition)


@router.post("/{experiment_id}/conditions", status_code=status.HTTP_201_CREATED)
def add_condition(
    experiment_id: int, condition: Annotated[ConditionSpec, Body()], session: SessionDep, queue: QueueDep
) -> ExperimentRead:
    """Extend the experiment with a new condition (by default on the seeds its fine-tuned conditions use)."""
    return service.add_condition(session, queue, experiment_id, condition)


@router.post("/{experiment_id}/cancel")
def cancel_experiment(experiment_id: int, session: SessionDep) -> ExperimentRead:
    return service.cancel_experiment(session, experiment_id)


@router.post("/{experiment_id}/resume")
def resume_experiment(experiment_id: int, session: SessionDep, queue: QueueDep) -> ExperimentRead:
    """Queue every unfinished run again (after a worker crash, say); stored results are kept."""
    return service.resume_experiment(session, queue, experiment_id)
