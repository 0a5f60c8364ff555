"""Judge stress tests of an experiment's judges: started by an editor, read by its members and by its share
links (flip rates are figures; the perturbed texts and their verdicts are not shown)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from backend.api.auth import Access, InExperiment
from backend.api.deps import MAX_ID, ExperimentId, QueueDep, SessionDep, SettingsDep
from backend.api_models.judges import StressTestRead, StressTestRequest
from backend.domain import Role, ShareScope
from backend.errors import NotFound
from backend.repositories import stress_tests as repository
from backend.services import stress_tests as service

router = APIRouter(prefix="/api/experiments/{experiment_id}/stress-tests", tags=["judges"])

ReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.FIGURES))]
EditorDep = Annotated[Access, Depends(InExperiment(Role.EDITOR))]
StressTestId = Annotated[int, Path(ge=1, le=MAX_ID, description="a stress test's id")]


@router.post("", status_code=status.HTTP_201_CREATED)
def start_stress_test(
    experiment_id: ExperimentId,
    request: StressTestRequest,
    access: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> StressTestRead:
    """Re-judge `size` responses the judge scored (half of each verdict, drawn with `seed`), each perturbed
    in every meaning-preserving way that applies to it, as a worker job; its result is each perturbation's
    flip rate. Nothing is generated. 422 for a judge that does not judge the experiment or has scored none
    of its responses."""
    return service.start_stress_test(session, queue, settings, experiment_id, request, access.user.id)


@router.get("")
def list_stress_tests(experiment_id: ExperimentId, _: ReaderDep, session: SessionDep) -> list[StressTestRead]:
    """The experiment's stress tests, newest first, with their flip rates once done."""
    return repository.of_experiment(session, experiment_id)


@router.post("/{stress_test_id}/retry")
def retry_stress_test(
    experiment_id: ExperimentId,
    stress_test_id: StressTestId,
    _: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> StressTestRead:
    """Queue a failed or stuck stress test again; the verdicts it stored are kept. 409 when a worker holds
    it or it is done."""
    if repository.experiment_of(session, stress_test_id) != experiment_id:
        raise NotFound(f"stress test {stress_test_id} not found")
    return service.retry_stress_test(session, queue, settings, stress_test_id)
