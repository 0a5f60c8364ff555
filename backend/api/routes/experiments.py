from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from backend.api.auth import Access, ChoosesProject, InExperiment, ProjectChoice, SignedInDep
from backend.api.deps import (
    MAX_ID,
    CacheDep,
    ExperimentId,
    PageDep,
    PageSizeDep,
    QueueDep,
    SessionDep,
    SettingsDep,
)
from backend.api.yaml_body import yaml_body, yaml_text
from backend.api_models.analysis import PlanRead
from backend.api_models.base import Page
from backend.api_models.experiments import (
    AddJudgesRequest,
    AddSeedsRequest,
    ExperimentDraftRead,
    ExperimentRead,
    ExperimentStateRead,
    ExperimentSummary,
    HeadlineJudgeRequest,
)
from backend.api_models.imports import ExperimentImport
from backend.api_models.judges import RescoringRead
from backend.domain import Role, ShareScope
from backend.errors import NotFound
from backend.experiment_definition import ConditionSpec, ExperimentSpec
from backend.repositories import experiments as repository
from backend.repositories import projects as project_repository
from backend.repositories import rescorings as rescoring_repository
from backend.services import drafts, imports, planning, rescoring
from backend.services import experiments as service
from backend.services.experiment_state import current_state, read_experiment

router = APIRouter(prefix="/api/experiments", tags=["experiments"])

SubmitterDep = Annotated[ProjectChoice, Depends(ChoosesProject(Role.EDITOR))]
ReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.FIGURES))]
EditorDep = Annotated[Access, Depends(InExperiment(Role.EDITOR))]
OwnerDep = Annotated[Access, Depends(InExperiment(Role.OWNER))]

_YAML_BODY = yaml_body("An experiment definition in YAML: the fields of POST /api/experiments.")


@router.get("")
def list_experiments(
    access: SignedInDep,
    session: SessionDep,
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
    project: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only this project's experiments")
    ] = None,
) -> Page[ExperimentSummary]:
    """The experiments of your projects, newest first."""
    project_ids = [p.id for p in project_repository.projects_of_user(session, access.user.id)]
    if project is not None:
        project_ids = [p for p in project_ids if p == project]
    return repository.list_experiments(session, project_ids, page=page, page_size=page_size)


@router.post("", status_code=status.HTTP_201_CREATED)
def submit_experiment(
    spec: Annotated[ExperimentSpec, Body()],
    submitter: SubmitterDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ExperimentRead:
    """Store the experiment in its project (`project`, default your first) and queue one run per
    (condition, seed)."""
    return service.submit(session, queue, spec, settings, submitter.choose(spec.project))


@router.post("/yaml", status_code=status.HTTP_201_CREATED, openapi_extra=_YAML_BODY)
async def submit_experiment_yaml(
    request: Request, submitter: SubmitterDep, session: SessionDep, queue: QueueDep, settings: SettingsDep
) -> ExperimentRead:
    """Like POST /api/experiments, with the definition as a YAML document (Content-Type application/yaml)."""
    spec = service.parse_yaml_spec(await yaml_text(request))
    return service.submit(session, queue, spec, settings, submitter.choose(spec.project))


@router.post("/import", status_code=status.HTTP_201_CREATED)
def import_experiment(
    upload: ExperimentImport, submitter: SubmitterDep, session: SessionDep, settings: SettingsDep
) -> ExperimentRead:
    """Store judged results made elsewhere (Inspect's samples dataframe as CSV, Every Eval Ever instance
    records as JSONL) as an evaluation-only experiment of the project: responses and verdicts, no training,
    every run done (docs/export.md)."""
    project_id = submitter.choose(upload.project)
    return imports.import_experiment(session, settings, upload, project_id, submitter.access.user.id)


@router.post("/plan")
def plan_experiment(
    spec: Annotated[ExperimentSpec, Body()],
    submitter: SubmitterDep,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> PlanRead:
    """What a drafted experiment would run, and the smallest difference it could detect (from the noise of
    an earlier experiment of the same project on the same base model and benchmark). Stores nothing."""
    return planning.plan(session, cache, settings, spec, submitter.choose(spec.project))


@router.get("/draft")
def draft_experiment(_: SignedInDep) -> ExperimentDraftRead:
    """The definition the new-experiment form starts from, and the JSON schema of a definition: every
    field's default and bounds."""
    return drafts.draft()


@router.get("/{experiment_id}")
def get_experiment(
    experiment_id: ExperimentId, access: ReaderDep, session: SessionDep, cache: CacheDep
) -> ExperimentRead:
    experiment = read_experiment(session, cache, experiment_id)
    if access.principal.share is not None:  # an account's address is for the project's members
        return experiment.model_copy(update={"headline_chosen_by": None})
    return experiment


@router.get(
    "/{experiment_id}/state",
    responses={
        200: {"model": ExperimentStateRead},
        304: {"description": "nothing changed since the state whose ETag was sent"},
    },
)
def get_experiment_state(
    experiment_id: ExperimentId,
    _: ReaderDep,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """A cheap check for an open dashboard: the experiment's state, with its version as the ETag. Send the
    ETag back in If-None-Match: 304 while nothing the dashboard shows has changed."""
    state = current_state(session, experiment_id)
    etag = f'"{state.version}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"etag": etag})
    body = ExperimentStateRead(
        version=state.version, runs=state.runs, unfinished=state.unfinished, jobs_running=state.jobs_running
    )
    return Response(body.model_dump_json(), media_type="application/json", headers={"etag": etag})


@router.delete("/{experiment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_experiment(
    experiment_id: ExperimentId, _: OwnerDep, session: SessionDep, settings: SettingsDep
) -> None:
    """Cancel what still runs, then delete the experiment with its runs, responses, verdicts and adapters."""
    service.delete_experiment(session, settings, experiment_id)


@router.post("/{experiment_id}/seeds", status_code=status.HTTP_201_CREATED)
def add_seeds(
    experiment_id: ExperimentId,
    request: AddSeedsRequest,
    _: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ExperimentRead:
    """Extend the experiment with more training seeds (every fine-tuned condition, or one); the new runs
    join the same analysis, marked as added later."""
    return service.add_seeds(session, queue, settings, experiment_id, request.count, request.condition)


@router.post("/{experiment_id}/conditions", status_code=status.HTTP_201_CREATED)
def add_condition(
    experiment_id: ExperimentId,
    condition: Annotated[ConditionSpec, Body()],
    _: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> ExperimentRead:
    """Extend the experiment with a new condition (by default on the seeds its fine-tuned conditions use)."""
    return service.add_condition(session, queue, settings, experiment_id, condition)


@router.post("/{experiment_id}/cancel")
def cancel_experiment(experiment_id: ExperimentId, _: EditorDep, session: SessionDep) -> ExperimentRead:
    return service.cancel_experiment(session, experiment_id)


@router.post("/{experiment_id}/resume")
def resume_experiment(
    experiment_id: ExperimentId, _: EditorDep, session: SessionDep, queue: QueueDep
) -> ExperimentRead:
    """Queue every unfinished run again (after a worker crash, say); stored results are kept."""
    return service.resume_experiment(session, queue, experiment_id)


@router.post("/{experiment_id}/judges", status_code=status.HTTP_201_CREATED)
def add_judges(
    experiment_id: ExperimentId,
    request: AddJudgesRequest,
    access: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> list[RescoringRead]:
    """Add judge definitions to a finished or running experiment: each judges every stored response as a
    worker job (a rescoring), with no new generation, and joins every per-judge view. 422, with nothing
    stored, for a definition that cannot judge the safety benchmarks or already judges the experiment."""
    return rescoring.add_judges(session, queue, settings, experiment_id, request.judges, access.user.id)


@router.post("/{experiment_id}/rescorings/{rescoring_id}/retry")
def retry_rescoring(
    experiment_id: ExperimentId,
    rescoring_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _: EditorDep,
    session: SessionDep,
    queue: QueueDep,
    settings: SettingsDep,
) -> RescoringRead:
    """Queue a failed or stuck rescoring again; the verdicts it stored are kept. 409 when a worker holds it
    or it is done."""
    if rescoring_repository.experiment_of(session, rescoring_id) != experiment_id:
        raise NotFound(f"rescoring {rescoring_id} not found")
    return rescoring.retry_rescoring(session, queue, settings, rescoring_id)


@router.put("/{experiment_id}/headline-judge")
def choose_headline_judge(
    experiment_id: ExperimentId,
    request: HeadlineJudgeRequest,
    access: EditorDep,
    session: SessionDep,
    cache: CacheDep,
) -> ExperimentRead:
    """Make one of the experiment's judges the one whose verdicts make its headline rate; who chose it and
    when are recorded and shown. 409 while that judge is still judging the stored responses."""
    rescoring.choose_headline(session, experiment_id, request.judge, access.user.id)
    return read_experiment(session, cache, experiment_id)
