"""Judged results made elsewhere imported as an evaluation-only experiment: stored responses and verdicts,
done runs, the analysis's intervals; a file that is not what the upload says is refused, naming the field,
and stores nothing."""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.domain import Verdict
from tests.factories import (
    INSPECT_SAMPLES,
    add_verdicts,
    experiment_spec,
    inspect_samples_csv,
    stored_counts,
    upload_small_benchmark,
)


def upload(content: str = INSPECT_SAMPLES, **changes: Any) -> dict[str, Any]:
    return {
        "format": "inspect-samples-csv",
        "content": content,
        "name": "imported",
        "benchmark": "imported-prompts",
        "harmful": ["C"],
        "safe": ["I"],
        **changes,
    }


def test_an_inspect_samples_file_becomes_a_done_evaluation_only_experiment(client: TestClient) -> None:
    response = client.post("/api/experiments/import", json=upload())
    assert response.status_code == 201, response.text
    experiment = response.json()
    conditions = {c["name"]: c for c in experiment["conditions"]}
    assert list(conditions) == ["mockllm-a", "mockllm-b"]
    assert all(
        c["is_baseline"] and c["spec"]["base_model"].startswith("mockllm/") for c in conditions.values()
    )
    runs = sorted((run["seed"], run["status"]) for run in experiment["runs"])
    assert runs == [(1, "done"), (1, "done"), (2, "done"), (2, "done")]
    (judge,) = experiment["judges"]
    assert (judge["ref"], judge["kind"]) == ("imported-score_includes@1", "imported")
    config = client.get(f"/api/judges/{judge['id']}").json()["config"]
    assert {name: value for name, value in config.items() if value is not None} == {
        "kind": "imported",
        "labels": {"c": "harmful", "i": "safe"},
    }

    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    summary = {c["name"]: c for c in analysis["conditions"]}
    assert [p["rate"] for p in summary["mockllm-a"]["seeds"]] == pytest.approx([1 / 3, 1 / 3])
    assert [p["rate"] for p in summary["mockllm-b"]["seeds"]] == pytest.approx([0, 1])
    for condition in summary.values():
        assert condition["pooled"]["rate"] == pytest.approx(
            1 / 3 if condition["name"] == "mockllm-a" else 0.5
        )
        assert condition["pooled"]["low"] < condition["pooled"]["rate"] < condition["pooled"]["high"]
        assert condition["low"] is not None and condition["high"] is not None
    assert [(c["a"], c["b"]) for c in analysis["comparisons"]] == [("mockllm-b", "mockllm-a")]
    for export in ("export.csv", "export.eee.zip"):
        assert client.get(f"/api/experiments/{experiment['id']}/{export}").status_code == 200

    prompts = client.get(f"/api/experiments/{experiment['id']}/prompts").json()["items"]
    assert [(p["external_id"], p["text"]) for p in prompts][:1] == [("q0", "user:\nrequest 0\n")]
    url = f"/api/experiments/{experiment['id']}/prompts/{prompts[1]['prompt_id']}/responses"
    stored = [
        (r["condition"], r["seed"], r["text"], r["judgments"][0]["verdict"], r["judgments"][0]["output"])
        for r in client.get(url).json()["items"]
    ]
    assert stored == [
        ("mockllm-a", 1, "Sure", "harmful", "C"),
        ("mockllm-a", 2, "Sure", "harmful", "C"),
        ("mockllm-b", 1, "No", "safe", "I"),
        ("mockllm-b", 2, "Sure", "harmful", "C"),
    ]


def test_an_empty_score_is_unscored_and_another_scorer_column_can_be_named(client: TestClient) -> None:
    content = inspect_samples_csv([("m", "q0", 1, "x", "out", ""), ("m", "q1", 1, "y", "out", "1.0")])
    content = content.replace("score_includes", "score_model_graded")
    response = client.post(
        "/api/experiments/import",
        json=upload(content, harmful=["1.0"], safe=["0.0"], score_column="score_model_graded"),
    )
    assert response.status_code == 201, response.text
    rate = response.json()["runs"][0]["rate"]
    assert (rate["harmful"], rate["safe"], rate["unscored"]) == (1, 0, 1)


@pytest.mark.parametrize(
    ("content", "changes", "named"),
    [
        (INSPECT_SAMPLES.replace("error,output", "error,answer", 1), {}, "missing column(s) ['output']"),
        (INSPECT_SAMPLES, {"epoch_column": "seed"}, "missing column(s) ['seed']"),
        (INSPECT_SAMPLES, {"safe": []}, "row 1 (line 2): score_includes 'I' is in neither"),
        (
            inspect_samples_csv([("m", "q0", 1, "x", "out", "C"), ("m", "q0", 2, "other", "out", "C")]),
            {},
            "row 2 (line 3): id 'q0' has another input than at row 1 (line 2)",
        ),
        (
            inspect_samples_csv([("m", "q0", 1, "x", "out", "C"), ("m", "q0", 1, "x", "out", "I")]),
            {},
            "row 2 (line 3): id 'q0' of model 'm', epoch 1, is already at row 1",
        ),
        (inspect_samples_csv([("m", "q0", "one", "x", "out", "C")]), {}, "epoch 'one' is not a whole number"),
        (
            inspect_samples_csv([("m", "q0", 1, "x", "out", "C")]).replace("error", "score_other"),
            {},
            "several score_* columns",
        ),
        (
            inspect_samples_csv([("a/b", "q0", 1, "x", "o", "C"), ("a-b", "q1", 1, "y", "o", "C")]),
            {},
            "conditions 'a/b' and 'a-b' both make the condition name 'a-b'",
        ),
    ],
)
def test_a_file_unlike_its_upload_is_refused_naming_the_field_and_stores_nothing(
    client: TestClient, content: str, changes: dict[str, Any], named: str
) -> None:
    before = stored_counts(client)
    response = client.post("/api/experiments/import", json=upload(content, **changes))
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert stored_counts(client) == before


def test_an_imported_experiment_runs_nothing_here(client: TestClient) -> None:
    experiment = client.post("/api/experiments/import", json=upload()).json()
    assert experiment["runs_here"] is False
    condition = {"name": "more", "finetune": False, "base_model": "org/model"}
    added = client.post(f"/api/experiments/{experiment['id']}/conditions", json=condition)
    repeated = client.post(f"/api/runs/{experiment['runs'][0]['id']}/reevaluate", json={"count": 1})
    for response in (added, repeated):
        assert response.status_code == 422
        assert f"experiment {experiment['id']} was imported: it runs nothing here" in response.text
    # Nor can its judge be stress-tested: it stands for the other tool's scorer and judges nothing here.
    judge = experiment["judges"][0]["ref"]
    stressed = client.post(f"/api/experiments/{experiment['id']}/stress-tests", json={"judge": judge})
    assert stressed.status_code == 422 and "stands for imported results" in stressed.text
    assert client.get(f"/api/experiments/{experiment['id']}/stress-tests").json() == []


def test_a_value_mapped_both_ways_is_refused(client: TestClient) -> None:
    response = client.post("/api/experiments/import", json=upload(safe=["c"]))
    assert response.status_code == 422
    assert "['c'] are both harmful and safe" in response.text


def test_an_imported_judge_cannot_be_made_by_hand(client: TestClient) -> None:
    judge = {"name": "mine", "kind": "imported", "labels": {"c": "harmful"}}
    response = client.post("/api/judges", json=judge)
    assert response.status_code == 422
    assert "POST /api/experiments/import" in response.text


@pytest.mark.slow
def test_a_samples_dataframe_of_an_inspect_eval_imports_with_intervals(
    client: TestClient, tmp_path: Path
) -> None:
    """The file users upload, made by inspect_ai itself: a small eval of its mock model, its samples
    dataframe with the output column, saved as CSV."""
    pytest.importorskip("inspect_ai")
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.analysis import EvalModel, SampleColumn, SampleSummary, samples_df
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ChatMessage, ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate

    def reply(messages: list[ChatMessage], *_: Any) -> ModelOutput:
        """Complies with the odd requests: the scorer's target "Sure" is in those outputs."""
        complies = int(messages[-1].text.split()[-1]) % 2 == 1
        output = ModelOutput.from_content("mockllm", "Sure, here is how." if complies else "I can't help.")
        # Usage given: the mock model would otherwise count tokens with a tokenizer it downloads.
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return output

    task = Task(
        dataset=[Sample(input=f"harmful request {i}", target="Sure", id=f"q{i}") for i in range(6)],
        solver=generate(),
        scorer=includes(),
    )
    model = get_model("mockllm/model", custom_outputs=reply)
    inspect_eval(task, model=model, epochs=2, log_dir=str(tmp_path), display="none")
    output = SampleColumn("output", path=lambda sample: sample.output.completion, full=True)
    frame = samples_df(str(tmp_path), columns=EvalModel + SampleSummary + [output])
    frame.to_csv(tmp_path / "samples.csv", index=False)

    content = (tmp_path / "samples.csv").read_text()
    response = client.post("/api/experiments/import", json=upload(content))
    assert response.status_code == 201, response.text
    experiment = response.json()
    assert [c["name"] for c in experiment["conditions"]] == ["mockllm-model"]
    assert sorted(run["seed"] for run in experiment["runs"]) == [1, 2]
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    (summary,) = analysis["conditions"]
    assert [p["rate"] for p in summary["seeds"]] == [0.5, 0.5]
    pooled = summary["pooled"]
    assert (pooled["harmful"], pooled["safe"], pooled["rate"]) == (6, 6, 0.5)
    assert 0 < pooled["low"] < 0.5 < pooled["high"] < 1


# --- Every Eval Ever instance records -------------------------------------------------------------------


def eee_record(sample_id: str, text: str, output: str, score: float, **changes: Any) -> dict[str, Any]:
    """An instance record as a tool other than seedscope writes one: no seedscope metadata."""
    record = {
        "schema_version": "0.3.0",
        "evaluation_id": "bench/org/model/1",
        "model_id": "org/model",
        "evaluation_name": "bench",
        "sample_id": sample_id,
        "interaction_type": "single_turn",
        "input": {"raw": text, "reference": []},
        "output": {"raw": [output]},
        "answer_attribution": [],
        "evaluation": {"score": score, "is_correct": score == 0},
    }
    return record | changes


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def eee_upload(content: str, **changes: Any) -> dict[str, Any]:
    return upload(content, **{"format": "eee-instances-jsonl", "harmful": ["1"], "safe": ["0"], **changes})


def summaries(client: TestClient, experiment_id: int) -> dict[str, dict[str, Any]]:
    """Each condition's harmful and safe counts, its rate and scored count per seed, and its intervals."""
    analysis = client.get(f"/api/experiments/{experiment_id}/analysis").json()
    return {
        c["name"]: {
            "pooled": (c["pooled"]["harmful"], c["pooled"]["safe"]),
            "seeds": [(p["seed"], p["rate"], p["n_scored"]) for p in c["seeds"]],
            "intervals": (c["pooled"]["low"], c["pooled"]["high"], c["low"], c["high"]),
        }
        for c in analysis["conditions"]
    }


def test_an_eee_export_imports_back_with_the_same_counts(client: TestClient) -> None:
    """seedscope's own EEE export, its instance records of every condition in one file: the imported
    experiment counts what the original did (its unscored verdicts aside: they have no record)."""
    H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED
    upload_small_benchmark(client, "round-trip", 3)
    spec = experiment_spec(
        benchmark="round-trip",
        judges=["refusal-phrases"],
        seeds=[0, 1, 2],
        generation={"samples_per_prompt": 2, "temperature": 0.7},
        conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}, {"name": "lr-2e-4"}],
    )
    original = client.post("/api/experiments", json=spec).json()
    # Each run's verdicts on the 3 prompts' 2 samples: rates that differ from seed to seed.
    verdicts = [
        [[H, S], [S, U], [H, H]],
        [[S, S], [H, U], [S, S]],
        [[H, H], [H, S], [U, U]],
        [[S, S], [S, S], [H, S]],
    ]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run, run_verdicts in zip(original["runs"], verdicts, strict=True):
            add_verdicts(session, run["id"], run_verdicts)
    exported = client.get(f"/api/experiments/{original['id']}/export.eee.zip")
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        samples = [name for name in archive.namelist() if name.endswith("_samples.jsonl")]
        content = "".join(archive.read(name).decode() for name in samples)
    assert len(samples) == 2  # one file per condition

    response = client.post(
        "/api/experiments/import", json=eee_upload(content, benchmark="round-trip-imported")
    )
    assert response.status_code == 201, response.text
    imported = response.json()
    assert sorted((run["seed"], run["status"]) for run in imported["runs"]) == [
        (0, "done"),
        (0, "done"),
        (1, "done"),
        (2, "done"),
    ]
    assert imported["spec"]["generation"]["samples_per_prompt"] == 2
    # Named after the evaluation result its records point at: the original judge's pooled rate.
    judge = original["judges"][0]["ref"].replace("@", "-")
    assert imported["judges"][0]["ref"] == f"imported-round-trip-1-{judge}-pooled@1"
    before, after = summaries(client, original["id"]), summaries(client, imported["id"])
    assert list(after) == ["baseline", "lr-2e-4"]
    for name, summary in before.items():
        assert (after[name]["pooled"], after[name]["seeds"]) == (summary["pooled"], summary["seeds"])
        assert after[name]["intervals"] == pytest.approx(summary["intervals"])
    # Pooled intervals for both; over seeds for the condition of three.
    assert all(bound is not None for bound in after["lr-2e-4"]["intervals"])
    assert all(bound is not None for bound in after["baseline"]["intervals"][:2])


def test_records_of_other_tools_make_a_condition_per_model_and_a_sample_per_record(
    client: TestClient,
) -> None:
    """No seedscope metadata: one run per model, a sample's records its samples in the file's order; scores
    compared as numbers (the mapping's "1" is the file's 1.0)."""
    records = [
        eee_record("q0", "request 0", "Sure", 1.0),
        eee_record("q0", "request 0", "No", 0.0),
        eee_record("q1", "request 1", "No", 0),
        eee_record("q0", "request 0", "Sure", 1, model_id="other/model"),
    ]
    response = client.post("/api/experiments/import", json=eee_upload(jsonl(records)))
    assert response.status_code == 201, response.text
    experiment = response.json()
    assert [(c["name"], c["spec"]["base_model"]) for c in experiment["conditions"]] == [
        ("org-model", "org/model"),
        ("other-model", "other/model"),
    ]
    assert [run["seed"] for run in experiment["runs"]] == [1, 1]
    (judge,) = experiment["judges"]
    assert judge["ref"] == "imported-bench@1"
    counts = summaries(client, experiment["id"])
    assert (counts["org-model"]["pooled"], counts["other-model"]["pooled"]) == ((1, 2), (1, 0))
    prompts = client.get(f"/api/experiments/{experiment['id']}/prompts").json()["items"]
    url = f"/api/experiments/{experiment['id']}/prompts/{prompts[0]['prompt_id']}/responses"
    stored = [
        (r["condition"], r["sample_index"], r["text"], r["judgments"][0]["output"])
        for r in client.get(url).json()["items"]
    ]
    assert stored == [
        ("org-model", 0, "Sure", "1.0"),
        ("org-model", 1, "No", "0.0"),
        ("other-model", 0, "Sure", "1"),
    ]


def test_a_file_of_several_evaluation_results_imports_the_one_named(client: TestClient) -> None:
    content = jsonl(
        [
            eee_record("q0", "request 0", "Sure", 1),
            eee_record("q0", "request 0", "Sure", 0, evaluation_name="other"),
            eee_record("q1", "request 1", "No", 0, evaluation_name="other"),
        ]
    )
    refused = client.post("/api/experiments/import", json=eee_upload(content))
    assert refused.status_code == 422
    assert (
        "line 2: evaluation_name 'other' is another evaluation result than 'bench' at line 1: name the one "
        "to import as `evaluation_result`"
    ) in refused.json()["detail"]
    response = client.post("/api/experiments/import", json=eee_upload(content, evaluation_result="other"))
    assert response.status_code == 201, response.text
    experiment = response.json()
    assert experiment["judges"][0]["ref"] == "imported-other@1"
    assert summaries(client, experiment["id"])["org-model"]["pooled"] == (0, 2)


GOOD = eee_record("q0", "request 0", "Sure", 1)


@pytest.mark.parametrize(
    ("records", "changes", "named"),
    [
        ([GOOD, "{not json"], {}, "eee-instances-jsonl: line 2: invalid JSON"),
        (
            [{key: value for key, value in GOOD.items() if key != "output"}],
            {},
            'line 1: "output" is a required property',
        ),
        ([GOOD | {"output": {"raw": "Sure"}}], {}, 'line 1: output.raw: "Sure" is not of type "array"'),
        ([GOOD | {"evaluation": {"score": "1", "is_correct": False}}], {}, "line 1: evaluation.score: "),
        (
            [GOOD, eee_record("q0", "another request", "No", 0)],
            {},
            "line 2: sample_id 'q0' has another input.raw than at line 1",
        ),
        ([GOOD | {"output": {"raw": ["Sure", "No"]}}], {}, "line 1: output.raw holds 2 different responses"),
        ([eee_record("q0", "request 0", "Sure", 0.5)], {}, "line 1: evaluation.score '0.5' is in neither"),
        (
            [
                GOOD | {"metadata": {"seedscope_seed": "0", "seedscope_sample_index": "0"}},
                GOOD | {"metadata": {"seedscope_seed": "0", "seedscope_sample_index": "0"}},
            ],
            {},
            "line 2: sample_id 'q0' of condition 'org/model', seed 0, sample 0, is already at line 1",
        ),
        (
            [GOOD | {"metadata": {"seedscope_seed": "first"}}],
            {},
            "line 1: metadata.seedscope_seed 'first' is not a whole number",
        ),
        (
            [GOOD | {"evaluation_result_id": "bench/a"}, GOOD | {"evaluation_result_id": "bench/b"}],
            {},
            "line 2: evaluation_result_id 'bench/b' is another evaluation result than 'bench/a' at line 1",
        ),
        ([GOOD], {"evaluation_result": "bench/judge/pooled"}, "no record of evaluation result"),
    ],
)
def test_an_eee_file_unlike_the_schema_or_its_upload_is_refused_naming_the_line_and_field(
    client: TestClient, records: list[Any], changes: dict[str, Any], named: str
) -> None:
    before = stored_counts(client)
    content = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    response = client.post("/api/experiments/import", json=eee_upload(content, **changes))
    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert stored_counts(client) == before


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ({"harmful": ["C"]}, "'C' is not a number, and an EEE record's score is one"),
        ({"harmful": ["1"], "safe": ["1.0"]}, "scores [1.0] are both harmful and safe"),
    ],
)
def test_an_eee_mapping_is_of_numbers_each_one_verdict(
    client: TestClient, mapping: dict[str, Any], named: str
) -> None:
    response = client.post("/api/experiments/import", json=eee_upload(jsonl([GOOD]), **mapping))
    assert response.status_code == 422
    assert named in response.json()["detail"][0]["msg"]
