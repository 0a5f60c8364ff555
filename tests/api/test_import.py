"""Judged results made elsewhere imported as an evaluation-only experiment: stored responses and verdicts,
done runs, the analysis's intervals; a file that is not what the upload says is refused, naming the field,
and stores nothing."""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import INSPECT_SAMPLES, inspect_samples_csv, stored_counts


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
    condition = {"name": "more", "finetune": False, "base_model": "org/model"}
    added = client.post(f"/api/experiments/{experiment['id']}/conditions", json=condition)
    repeated = client.post(f"/api/runs/{experiment['runs'][0]['id']}/reevaluate", json={"count": 1})
    for response in (added, repeated):
        assert response.status_code == 422
        assert f"experiment {experiment['id']} was imported: it runs nothing here" in response.text


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
