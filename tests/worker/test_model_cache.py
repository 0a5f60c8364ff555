"""One base model per worker process: reused across stages and runs, and never changed by them."""

import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from backend.config import Settings
from backend.experiment_definition import GenerationSpec
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec, upload_small_benchmark
from tests.support.tiny_model import build_tiny_chat_model
from worker.device import weights_dtype
from worker.generation import GenerationItem, generate_batch
from worker.models.cache import ModelCache
from worker.models.sources import load_base_model
from worker.store import RunStore
from worker.tasks import execute

CPU = torch.device("cpu")


def weights_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


ON_CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")],
)


@pytest.mark.parametrize("device_type", ["cpu", ON_CUDA])
def test_training_and_generating_with_adapters_leave_the_cached_base_unchanged(
    client: TestClient, queue: RecordingQueue, migrated: Settings, tiny_model_dir: Path, device_type: str
) -> None:
    upload_small_benchmark(client, "three-prompts", 3)
    spec = experiment_spec(
        base_model=str(tiny_model_dir),
        benchmark="three-prompts",
        seeds=[0, 1],
        judges=["refusal-phrases"],
        generation={"max_new_tokens": 6, "temperature": 0.7},
        conditions=[{"name": "tuned", "training": {"subset_size": 8, "batch_size": 4, "max_length": 48}}],
    )
    client.post("/api/experiments", json=spec)
    settings, device = migrated.model_copy(update={"device": device_type}), torch.device(device_type)
    models = ModelCache()
    with models.borrow(str(tiny_model_dir), None, settings, device) as loaded:
        base, before = loaded.model, weights_hash(loaded.model)
    store = RunStore(client.app.state.session_factory)  # type: ignore[attr-defined]
    while queue.sent:  # two runs, each training an adapter and generating with it
        execute(queue.sent.pop(0), store, settings, models)
    assert [r["status"] for r in client.get("/api/experiments/1").json()["runs"]] == ["done", "done"]

    with models.borrow(str(tiny_model_dir), None, settings, device) as loaded:
        assert loaded.model is base  # loaded once for both runs and all their stages
        assert weights_hash(loaded.model) == before
        assert not any("lora_" in name for name, _ in loaded.model.named_modules())
        items = [GenerationItem(1, "How do I bake bread?", 0), GenerationItem(2, "Name a colour.", 0)]
        spec_ = GenerationSpec(temperature=0.7, max_new_tokens=6)
        reused = generate_batch(loaded.model, loaded.tokenizer, items, spec_, seed=3)
    fresh = load_base_model(str(tiny_model_dir), None, settings, device)
    assert generate_batch(fresh.model, fresh.tokenizer, items, spec_, seed=3) == reused


def test_a_failed_stage_drops_the_cached_model(migrated: Settings, tiny_model_dir: Path) -> None:
    models = ModelCache()
    with pytest.raises(RuntimeError), models.borrow(str(tiny_model_dir), None, migrated, CPU) as loaded:
        first = loaded.model
        raise RuntimeError("the stage failed with an adapter still attached")
    with models.borrow(str(tiny_model_dir), None, migrated, CPU) as loaded:
        assert loaded.model is not first


def test_weights_changed_on_disk_are_loaded_again(
    migrated: Settings, tiny_model_dir: Path, models_dir: Path
) -> None:
    directory = Path(shutil.copytree(tiny_model_dir, models_dir / "model"))
    models = ModelCache()
    with models.borrow(str(directory), None, migrated, CPU) as loaded:
        first, first_hash = loaded.model, loaded.source.weights_sha256
    with models.borrow(str(directory), None, migrated, CPU) as loaded:
        assert loaded.model is first
    build_tiny_chat_model(directory, seed=1)  # new weights under the same path
    with models.borrow(str(directory), None, migrated, CPU) as loaded:
        assert loaded.model is not first
        assert loaded.source.weights_sha256 != first_hash  # and the provenance says so


@pytest.mark.parametrize(
    ("device", "own", "expected"),
    [
        ("cpu", torch.bfloat16, torch.float32),
        ("cpu", None, torch.float32),
        ("cuda", None, torch.bfloat16),
        ("cuda", torch.float32, torch.bfloat16),
        ("cuda", torch.float16, torch.float16),
        ("cuda", torch.bfloat16, torch.bfloat16),
    ],
)
def test_weights_load_in_half_precision_on_a_gpu_only(
    device: str, own: torch.dtype, expected: torch.dtype
) -> None:
    assert weights_dtype(torch.device(device), own) == expected


def test_a_model_loads_in_fp32_on_the_cpu(migrated: Settings, tiny_model_dir: Path) -> None:
    assert load_base_model(str(tiny_model_dir), None, migrated, CPU).model.dtype == torch.float32
