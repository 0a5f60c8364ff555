from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from backend.api.deps import SessionDep
from backend.catalog.adapters import BENCHMARK_FORMATS
from backend.schemas import BenchmarkRead, CatalogRead, TrainingSetRead
from backend.services import catalog as service

router = APIRouter(prefix="/api", tags=["catalog"])


class _DatasetUpload(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: str = Field("1", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    content: str = Field(min_length=1, description="the file's text")


class BenchmarkUpload(_DatasetUpload):
    format: str = Field(description=f"one of {', '.join(BENCHMARK_FORMATS)}")


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/catalog")
def get_catalog(session: SessionDep) -> CatalogRead:
    """Everything the experiment form offers: base models, benchmarks, training sets, judges."""
    return service.catalog(session)


@router.post("/benchmarks", status_code=status.HTTP_201_CREATED)
def upload_benchmark(upload: BenchmarkUpload, session: SessionDep) -> BenchmarkRead:
    benchmark = service.import_benchmark(
        session,
        name=upload.name,
        version=upload.version,
        format=upload.format,
        text=upload.content,
        description=upload.description,
    )
    session.commit()
    return benchmark


@router.post("/training-sets", status_code=status.HTTP_201_CREATED)
def upload_training_set(upload: _DatasetUpload, session: SessionDep) -> TrainingSetRead:
    """A JSONL file of {"prompt": ..., "response": ...} objects."""
    training_set = service.import_training_set(
        session, name=upload.name, version=upload.version, text=upload.content, description=upload.description
    )
    session.commit()
    return training_set
