from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import Field

from backend.api.auth import ChoosesProject, ProjectChoice, Public, SignedInDep
from backend.api.deps import SessionDep, SettingsDep
from backend.api_models.base import UserInput
from backend.api_models.catalog import BenchmarkRead, CatalogRead, TrainingSetRead
from backend.catalog.adapters import BENCHMARK_FORMATS, FieldNames
from backend.domain import Role
from backend.repositories import projects as project_repository
from backend.services import catalog as service

router = APIRouter(prefix="/api", tags=["catalog"])
UploaderDep = Annotated[ProjectChoice, Depends(ChoosesProject(Role.EDITOR))]


class DatasetUpload(UserInput):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: str = Field("1", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", max_length=5000)
    content: str = Field(min_length=1, description="the file's text")
    project: int | str | None = Field(None, description="project id or name; default: your first project")


class BenchmarkUpload(DatasetUpload):
    format: str | None = Field(
        None, max_length=50, description=f"one of {', '.join(BENCHMARK_FORMATS)}; omit to guess from filename"
    )
    filename: str | None = Field(
        None,
        max_length=255,
        description="the uploaded file's name (.csv, .jsonl, .yaml), to guess the format",
    )
    # The generic jsonl and csv formats only: where the fields are when the file names them otherwise.
    prompt_key: str | None = Field(
        None, min_length=1, max_length=200, description="the prompt's key or column"
    )
    id_key: str | None = Field(None, min_length=1, max_length=200, description="the id's key or column")
    category_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the category's key or column; a list of tags takes its first",
    )


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
    benchmark = service.import_benchmark(
        session,
        settings,
        project_id=uploader.choose(upload.project),
        name=upload.name,
        version=upload.version,
        format=upload.format,
        text=upload.content,
        filename=upload.filename,
        description=upload.description,
        names=FieldNames(prompt=upload.prompt_key, id=upload.id_key, category=upload.category_key),
    )
    session.commit()
    return benchmark


@router.post("/training-sets", status_code=status.HTTP_201_CREATED)
def upload_training_set(
    upload: DatasetUpload, uploader: UploaderDep, session: SessionDep, settings: SettingsDep
) -> TrainingSetRead:
    """A JSONL file of {"prompt": ..., "response": ...} objects."""
    training_set = service.import_training_set(
        session,
        settings,
        project_id=uploader.choose(upload.project),
        name=upload.name,
        version=upload.version,
        text=upload.content,
        description=upload.description,
    )
    session.commit()
    return training_set
