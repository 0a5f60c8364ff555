from fastapi import APIRouter, status
from pydantic import Field

from backend.api.deps import SessionDep, SettingsDep
from backend.catalog.adapters import BENCHMARK_FORMATS
from backend.schemas import BenchmarkRead, CatalogRead, TrainingSetRead
from backend.services import catalog as service
from backend.specs import UserInput

router = APIRouter(prefix="/api", tags=["catalog"])


class _DatasetUpload(UserInput):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: str = Field("1", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", max_length=5000)
    content: str = Field(min_length=1, description="the file's text")


class BenchmarkUpload(_DatasetUpload):
    format: str | None = Field(
        None, max_length=50, description=f"one of {', '.join(BENCHMARK_FORMATS)}; omit to guess from filename"
    )
    filename: str | None = Field(
        None,
        max_length=255,
        description="the uploaded file's name (.csv, .jsonl, .yaml), to guess the format",
    )


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/catalog")
def get_catalog(session: SessionDep) -> CatalogRead:
    """Everything the experiment form offers: base models, benchmarks, training sets, judges."""
    return service.catalog(session)


@router.post("/benchmarks", status_code=status.HTTP_201_CREATED)
def upload_benchmark(upload: BenchmarkUpload, session: SessionDep, settings: SettingsDep) -> BenchmarkRead:
    benchmark = service.import_benchmark(
        session,
        settings,
        name=upload.name,
        version=upload.version,
        format=upload.format,
        text=upload.content,
        filename=upload.filename,
        description=upload.description,
    )
    session.commit()
    return benchmark


@router.post("/training-sets", status_code=status.HTTP_201_CREATED)
def upload_training_set(
    upload: _DatasetUpload, session: SessionDep, settings: SettingsDep
) -> TrainingSetRead:
    """A JSONL file of {"prompt": ..., "response": ...} objects."""
    training_set = service.import_training_set(
        session,
        settings,
        name=upload.name,
        version=upload.version,
        text=upload.content,
        description=upload.description,
    )
    session.commit()
    return training_set
