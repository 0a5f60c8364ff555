from typing import Annotated

from fastapi import APIRouter, Depends, status

from backend.api.auth import ChoosesProject, ProjectChoice, Public, SignedInDep
from backend.api.deps import SessionDep, SettingsDep
from backend.api_models.catalog import (
    BenchmarkRead,
    BenchmarkUpload,
    CatalogRead,
    TrainingSetRead,
    TrainingSetUpload,
)
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.domain import Role
from backend.repositories import projects as project_repository
from backend.services import catalog as service

router = APIRouter(prefix="/api", tags=["catalog"])
UploaderDep = Annotated[ProjectChoice, Depends(ChoosesProject(Role.EDITOR))]


@router.get("/health", dependencies=[Depends(Public())])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/catalog")
def get_catalog(access: SignedInDep, session: SessionDep) -> CatalogRead:
    """What the forms offer: base models, judges and judge presets, the built-in datasets and your
    projects'."""
    project_ids = [p.id for p in project_repository.projects_of_user(session, access.user.id)]
    return service.catalog(session, project_ids)


@router.post("/benchmarks", status_code=status.HTTP_201_CREATED)
def upload_benchmark(
    upload: BenchmarkUpload, uploader: UploaderDep, session: SessionDep, settings: SettingsDep
) -> BenchmarkRead:
    project_id = uploader.choose(upload.project)
    return service.import_dataset(session, settings, BENCHMARKS, upload.dataset_file(), project_id)


@router.post("/training-sets", status_code=status.HTTP_201_CREATED)
def upload_training_set(
    upload: TrainingSetUpload, uploader: UploaderDep, session: SessionDep, settings: SettingsDep
) -> TrainingSetRead:
    """Prompt/response examples: JSONL of {"prompt": ..., "response": ...} objects (or the keys named), or
    Alpaca, Dolly or chat-messages files (docs/using.md)."""
    project_id = uploader.choose(upload.project)
    return service.import_dataset(session, settings, TRAINING_SETS, upload.dataset_file(), project_id)
