"""Judge definitions, validation sets and judge validations."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, status

from backend.api.auth import Access, ChoosesProject, InJudge, InValidation, ProjectChoice, SignedInDep
from backend.api.deps import MAX_ID, JudgeId, QueueDep, SessionDep, SettingsDep, ValidationId
from backend.api.yaml_body import yaml_body, yaml_text
from backend.api_models.catalog import ValidationSetRead, ValidationSetUpload
from backend.api_models.judges import (
    JudgeDefinitionRead,
    JudgeDetailRead,
    JudgeValidationRead,
    ValidationRequest,
    ValidationSummaryRead,
)
from backend.catalog.kinds import VALIDATION_SETS
from backend.domain import Role
from backend.judging.definition import JudgeSpec
from backend.repositories import catalog as catalog_repository
from backend.repositories import projects as project_repository
from backend.repositories import validations as validation_repository
from backend.services import catalog as catalog_service
from backend.services import judges as service
from backend.services import validations as validation_service

router = APIRouter(prefix="/api", tags=["judges"])
EditorChoiceDep = Annotated[ProjectChoice, Depends(ChoosesProject(Role.EDITOR))]
JudgeReaderDep = Annotated[Access, Depends(InJudge(Role.VIEWER))]
ValidationReaderDep = Annotated[Access, Depends(InValidation(Role.VIEWER))]
ValidationEditorDep = Annotated[Access, Depends(InValidation(Role.EDITOR))]


def _project_ids(session: SessionDep, access: Access) -> list[int]:
    return [p.id for p in project_repository.projects_of_user(session, access.user.id)]


@router.get("/judges")
def list_judges(
    access: SignedInDep,
    session: SessionDep,
    all_versions: Annotated[bool, Query(description="every version, not only the newest")] = False,
) -> list[JudgeDefinitionRead]:
    """The built-in judge definitions and your projects', built-ins first."""
    return service.list_judges(session, _project_ids(session, access), all_versions=all_versions)


@router.post("/judges", status_code=status.HTTP_201_CREATED)
def create_judge(
    spec: Annotated[JudgeSpec, Body()], chooser: EditorChoiceDep, session: SessionDep, settings: SettingsDep
) -> JudgeDefinitionRead:
    """A judge definition in a project (`project`, default your first): a new name gets version 1, a changed
    definition of a name the next version; an unchanged one answers its newest version. An endpoint, API
    key or local model path the operator's settings do not allow is refused, naming the setting."""
    return service.create_judge(session, settings, spec, chooser.choose(spec.project), chooser.access.user.id)


@router.post(
    "/judges/yaml",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=yaml_body("A judge definition in YAML: the fields of POST /api/judges."),
)
async def create_judge_yaml(
    request: Request, chooser: EditorChoiceDep, session: SessionDep, settings: SettingsDep
) -> JudgeDefinitionRead:
    """Like POST /api/judges, with the definition as a YAML document (Content-Type application/yaml)."""
    spec = service.parse_yaml_spec(await yaml_text(request))
    return service.create_judge(session, settings, spec, chooser.choose(spec.project), chooser.access.user.id)


@router.get("/judges/{judge_id}")
def get_judge(judge_id: JudgeId, access: JudgeReaderDep, session: SessionDep) -> JudgeDetailRead:
    """One definition (any version), with its validations and stress tests in your projects."""
    return service.judge_detail(session, judge_id, _project_ids(session, access))


@router.get("/validation-sets")
def list_validation_sets(access: SignedInDep, session: SessionDep) -> list[ValidationSetRead]:
    """The built-in validation sets and your projects'."""
    return catalog_repository.list_datasets(session, VALIDATION_SETS, _project_ids(session, access))


@router.post("/validation-sets", status_code=status.HTTP_201_CREATED)
def upload_validation_set(
    upload: ValidationSetUpload, chooser: EditorChoiceDep, session: SessionDep, settings: SettingsDep
) -> ValidationSetRead:
    """Human-labelled (request, response, label[, category][, id]) pairs, CSV or JSONL, or PyRIT's refusal
    CSV (`pyrit-refusal-csv`)."""
    file, project_id = upload.dataset_file(), chooser.choose(upload.project)
    return catalog_service.import_dataset(session, settings, VALIDATION_SETS, file, project_id)


@router.post("/judge-validations", status_code=status.HTTP_201_CREATED)
def start_validation(
    request: ValidationRequest,
    chooser: EditorChoiceDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ValidationSummaryRead:
    """Measure a judge definition against a validation set, as a worker job; the result appears when done."""
    return validation_service.start_validation(
        session, queue, settings, request, chooser.choose(request.project), chooser.access.user.id
    )


@router.get("/judge-validations")
def list_validations(
    access: SignedInDep,
    session: SessionDep,
    judge_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only this judge definition's")
    ] = None,
) -> list[ValidationSummaryRead]:
    """Your projects' judge validations, newest first."""
    return validation_repository.list_validations(session, _project_ids(session, access), judge_id)


@router.get("/judge-validations/{validation_id}")
def get_validation(
    validation_id: ValidationId, _: ValidationReaderDep, session: SessionDep
) -> JudgeValidationRead:
    """A validation's result: accuracy, precision, recall, kappa, the confusion matrix, per-category
    figures, and every example the judge got wrong or left unscored."""
    return validation_repository.get_validation(session, validation_id)


@router.post("/judge-validations/{validation_id}/retry")
def retry_validation(
    validation_id: ValidationId,
    _: ValidationEditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ValidationSummaryRead:
    """Queue a failed or stuck validation again; the verdicts it already stored are kept. 409 when a worker
    holds it or it is done."""
    return validation_service.retry_validation(session, queue, settings, validation_id)
