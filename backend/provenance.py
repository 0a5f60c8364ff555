"""What a run records so that it can be reproduced and its numbers checked: the one model of a run's
provenance, written by the worker section by section as the run goes, read by the run page and the report.

Every section is optional: a run records one when it reaches the stage that writes it (a run not started has
none, a baseline never trains). A field added after runs were first recorded is optional too, as older runs
lack it. A provenance is shown as it was recorded: what it never recorded is left out, not written as null.
"""

import hashlib
import json
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from backend.experiment_definition import SelfGenerationSpec


class _Recorded(BaseModel):
    # Unknown keys in a stored row are ignored (no version of the worker wrote any), so reading never fails.
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Unannotated on purpose: pydantic would take a return annotation for the JSON schema of the model.
    @model_serializer(mode="wrap")
    def _as_recorded(self, handler: SerializerFunctionWrapHandler):
        return {key: value for key, value in handler(self).items() if key in self.model_fields_set}


class ModelSource(_Recorded):
    """The base model as the worker loaded it."""

    reference: str  # as the experiment names it
    revision: str | None
    path: str  # the directory or hub id it was loaded from
    weights_sha256: str | None  # of a local directory's weight files
    commit: str | None  # the hub commit, when it came from the hub


class RunSeeds(_Recorded):
    lora_init: int
    data_order: int
    data_subset: int
    sampling: int


class DataHashes(_Recorded):
    """Content hashes of the datasets the run read."""

    # The first benchmark's, and every benchmark's in order (one: the same hash).
    benchmark: str
    benchmarks: list[str] = Field(default_factory=list)
    training_set: str


class DatasetVersion(_Recorded):
    """One stored version of a dataset, as a run or a derived dataset used it."""

    id: int
    name: str
    version: str
    content_hash: str


class CpuDevice(_Recorded):
    type: Literal["cpu"]
    torch_threads: int
    dtype: str | None = None  # the weights' precision ("float32"); recorded since the worker picks it


class CudaDevice(_Recorded):
    type: Literal["cuda"]
    name: str
    count: int
    dtype: str | None = None  # as CpuDevice's ("bfloat16")


Device = Annotated[CpuDevice | CudaDevice, Field(discriminator="type")]


class Environment(_Recorded):
    packages: dict[str, str | None]  # name: version, None when not installed
    git_commit: str | None  # the worker's code, "-dirty" with uncommitted changes; None outside git
    python: str
    platform: str
    host: str


class CheckpointRecord(_Recorded):
    """An intermediate checkpoint the run stored: at which fraction of training, after which step."""

    fraction: float
    step: int


class TrainingRecord(_Recorded):
    examples: int
    steps: int
    losses: list[float]  # per step
    seconds: float
    # The intermediate checkpoints it stored (training.evaluate_at), earliest first.
    checkpoints: list[CheckpointRecord] = []


class GenerationRecord(_Recorded):
    # Tokens per generation batch: a resumed run plans its batches with the budget it recorded.
    token_budget: int
    batches: int


class SelfWrittenResponses(_Recorded):
    """How the responses of a derived training set (backend.catalog.derived) were written: shown with the
    set."""

    source: DatasetVersion  # the training set whose prompts were answered
    base_model: ModelSource  # the model that answered, as the worker loaded it (no adapter)
    # The sampling seed (the writing run's data-order seed); "greedy" when decoding is greedy, as no seed
    # changes what greedy decoding writes.
    seed: int | Literal["greedy"]
    generation: SelfGenerationSpec
    # How and where: tokens per generation batch (which prompts shared a batch), the device.
    token_budget: int
    device: Device
    created_by_run: int

    def identity(self) -> str:
        """sha256 over what decides the answers: the source's content, the model's weights, the seed and the
        settings; not where, how batched or by which run they were written."""
        decided_by = {
            "source": self.source.content_hash,
            "base_model": self.base_model.model_dump(exclude={"path"}),
            "seed": self.seed,
            "generation": self.generation.model_dump(mode="json"),
        }
        digest = hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode())
        return "sha256:" + digest.hexdigest()


class Provenance(_Recorded):
    base_model: ModelSource | None = None
    seeds: RunSeeds | None = None
    data: DataHashes | None = None
    device: Device | None = None
    environment: Environment | None = None
    training: TrainingRecord | None = None
    generation: GenerationRecord | None = None
    # The derived training set of the base model's own responses it trained on (training.responses: self).
    training_responses: DatasetVersion | None = None

    def with_sections(self, sections: "Provenance") -> Self:
        """This provenance with the sections `sections` records added, or replacing the ones recorded."""
        return self.model_copy(update={name: getattr(sections, name) for name in sections.model_fields_set})
