"""The long-table export: every stored judgment, every field, in CSV and in typed Parquet, streamed in chunks;
on SQLite and PostgreSQL (whose server-side cursor is the streaming path). And the Every Eval Ever export,
validated against the schemas it ships."""

import csv
import hashlib
import io
import json
import zipfile
from typing import Any

import jsonschema_rs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from backend.config import Settings
from backend.domain import ShareScope, Verdict
from backend.eee import SCHEMAS
from backend.experiment_definition import GenerationSpec, LoraSpec, SelfGenerationSpec, TrainingSpec
from backend.models import Benchmark, Condition, Generation, JudgeDefinition, Judgment, Prompt, Run
from backend.repositories.cells import refresh_prompt_cells
from backend.services import exports
from tests.factories import add_verdicts, experiment_spec
from tests.support.accounts import build_world

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED
PROMPTS = [
    {"id": 'quoted "id", with a comma', "prompt": "first", "category": "café"},
    {"id": "line\nbreak", "prompt": "second", "category": "fraud"},
    {"id": "p3", "prompt": "third", "category": "fraud"},
]


@pytest.fixture
def exported(db_client: TestClient) -> dict:
    """Baseline (seed 0) and a fine-tune (seeds 0, 1), 2 samples per prompt, two judges, one re-evaluation."""
    content = "\n".join(json.dumps(p) for p in PROMPTS)
    db_client.post("/api/benchmarks", json={"name": "export", "format": "jsonl", "content": content})
    spec = experiment_spec(
        benchmark="export",
        seeds=[0, 1],
        judges=["refusal-minilm", "refusal-phrases"],
        generation={"samples_per_prompt": 2, "temperature": 0.7},
        conditions=[{"name": "baseline", "finetune": False, "seeds": [0]}, {"name": "lr-2e-4"}],
    )
    experiment = db_client.post("/api/experiments", json=spec).json()
    second_judge = experiment["judges"][1]["id"]
    session_factory = db_client.app.state.session_factory  # type: ignore[attr-defined]
    patterns = [[H, S], [S, U], [H, H]]
    with session_factory() as session:
        for offset, run in enumerate(experiment["runs"]):
            add_verdicts(session, run["id"], patterns[offset:] + patterns[:offset])
    reevaluation = db_client.post(f"/api/runs/{experiment['runs'][1]['id']}/reevaluate", json={"count": 1})
    with session_factory() as session:
        add_verdicts(session, reevaluation.json()["runs"][0]["id"], [[S, S], [H, S], [U, H]])
        for number, generation in enumerate(session.scalars(select(Generation).order_by(Generation.id))):
            generation.text = f"réponse ✓ {'🙂' * (number % 4)}"  # characters, not bytes, are counted
            generation.n_new_tokens = number
            verdict = [H, S, U][number % 3]
            score = None if verdict is U else number / 10
            session.add(
                Judgment(generation_id=generation.id, judge_id=second_judge, verdict=verdict, score=score)
            )
        session.commit()
    return experiment


def _expected(db_client: TestClient) -> list[dict[str, Any]]:
    """Every stored judgment, read through the ORM row by row: the export must reproduce exactly these."""
    rows = []
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for judgment in session.scalars(select(Judgment)):
            generation = session.get(Generation, judgment.generation_id)
            assert generation is not None
            run = session.get(Run, generation.run_id)
            prompt = session.get(Prompt, generation.prompt_id)
            assert run is not None and prompt is not None
            condition: Condition = run.condition
            judge = session.get(JudgeDefinition, judgment.judge_id)
            benchmark = session.get(Benchmark, prompt.benchmark_id)
            assert judge is not None and benchmark is not None
            key = (condition.position, run.id, prompt.position, generation.sample_index, judgment.judge_id)
            rows.append(
                (
                    key,
                    {
                        "condition": condition.name,
                        "run_id": run.id,
                        "seed": run.seed,
                        "lora_init_seed": run.lora_init_seed,
                        "data_order_seed": run.data_order_seed,
                        "data_subset_seed": run.data_subset_seed,
                        "sampling_seed": run.sampling_seed,
                        "evaluation_index": run.evaluation_index,
                        "sample_index": generation.sample_index,
                        "benchmark": benchmark.reference,
                        "prompt_id": prompt.external_id,
                        "category": prompt.category,
                        "response_chars": len(generation.text),
                        "response_new_tokens": generation.n_new_tokens,
                        "judge": f"{judge.name}@{judge.version}",
                        "verdict": judgment.verdict.value,
                        "score": judgment.score,
                        "finetuned": not condition.is_baseline,
                        "base_model": condition.spec.base_model,
                        "training_set": None if condition.is_baseline else condition.training_set.reference,
                    },
                )
            )
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def _as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_rows_equal_the_stored_judgments(db_client: TestClient, exported: dict) -> None:
    response = db_client.get(f"/api/experiments/{exported['id']}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"seedscope-experiment-{exported['id']}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))
    expected = _expected(db_client)
    assert len(rows) == len(expected) == 4 * 3 * 2 * 2  # 4 runs x 3 prompts x 2 samples x 2 judges
    for row, stored in zip(rows, expected, strict=True):
        assert {key: row[key] for key in stored} == {
            key: _as_csv_text(value) for key, value in stored.items()
        }
    tuned = next(row for row in rows if row["condition"] == "lr-2e-4")
    baseline = next(row for row in rows if row["condition"] == "baseline")
    assert (tuned["training_learning_rate"], tuned["lora_rank"], tuned["lora_alpha"]) == ("0.0002", "8", "16")
    assert tuned["lora_target_modules"] == "q_proj,k_proj,v_proj,o_proj"
    assert (tuned["training_responses"], tuned["training_self_generation_max_new_tokens"]) == ("human", "128")
    assert (tuned["generation_temperature"], tuned["generation_samples_per_prompt"]) == ("0.7", "2")
    # A baseline is not fine-tuned: it has no LoRA or training settings, but it does have generation ones.
    assert (baseline["lora_rank"], baseline["training_learning_rate"]) == ("", "")
    assert baseline["generation_temperature"] == "0.7"


def test_every_setting_of_a_condition_is_a_column() -> None:
    names = {column.name for column in exports.COLUMNS}
    groups = (
        ("lora", LoraSpec),
        ("training", TrainingSpec),
        ("generation", GenerationSpec),
        ("training_self_generation", SelfGenerationSpec),
    )
    for group, spec in groups:
        assert {f"{group}_{field}" for field in spec.model_fields if field != "self_generation"} <= names
    assert "training_self_generation" not in names  # a nested group is its fields


def test_parquet_round_trips_with_the_same_types(db_client: TestClient, exported: dict) -> None:
    response = db_client.get(f"/api/experiments/{exported['id']}/export.parquet")
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    assert table.schema == pa.schema([pa.field(c.name, types[c.kind]) for c in exports.COLUMNS])
    rows = table.to_pylist()
    expected = _expected(db_client)
    assert len(rows) == len(expected)
    for row, stored in zip(rows, expected, strict=True):
        assert {key: row[key] for key in stored} == stored
    csv_rows = list(
        csv.DictReader(io.StringIO(db_client.get(f"/api/experiments/{exported['id']}/export.csv").text))
    )
    for row, csv_row in zip(rows, csv_rows, strict=True):
        assert {key: _as_csv_text(value) for key, value in row.items()} == csv_row
    tuned = next(row for row in rows if row["condition"] == "lr-2e-4")
    assert tuned["training_learning_rate"] == pytest.approx(2e-4) and tuned["lora_rank"] == 8


def test_the_stream_comes_in_chunks_that_add_up_to_the_whole(db_client: TestClient, exported: dict) -> None:
    factory = db_client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        settings = exports.condition_settings(session, exported["id"])
    whole = b"".join(exports.csv_stream(factory, exported["id"], settings))
    chunks = list(exports.csv_stream(factory, exported["id"], settings, chunk_size=5))
    assert len(chunks) == 48 // 5 + 1  # the header rides with the first chunk
    assert b"".join(chunks) == whole
    parquet = b"".join(exports.parquet_stream(factory, exported["id"], settings, chunk_size=5))
    file = pq.ParquetFile(io.BytesIO(parquet))
    assert file.metadata.num_row_groups == 10 and file.metadata.num_rows == 48


def test_an_experiment_without_judgments_exports_just_the_header(client: TestClient) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    text = client.get(f"/api/experiments/{experiment['id']}/export.csv").text
    assert text.splitlines() == [",".join(c.name for c in exports.COLUMNS)]
    empty = pq.read_table(
        io.BytesIO(client.get(f"/api/experiments/{experiment['id']}/export.parquet").content)
    )
    assert empty.num_rows == 0 and empty.schema.names == [c.name for c in exports.COLUMNS]


def test_exporting_an_unknown_experiment_is_404(client: TestClient) -> None:
    for suffix in ("csv", "parquet"):
        assert client.get(f"/api/experiments/999/export.{suffix}").status_code == 404


# (Leading tabs and CRs cannot reach a stored id or category: uploads strip them. The unit test below
# covers them.)
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"]


def test_csv_text_cells_cannot_run_as_spreadsheet_formulas(client: TestClient) -> None:
    """OWASP's CSV-injection advice: a text cell starting with = + - @ tab or CR gets a leading single
    quote. Numbers are not touched, and Parquet, which no spreadsheet evaluates, keeps the raw text."""
    content = "\n".join(
        json.dumps({"id": formula, "prompt": f"prompt {n}", "category": formula})
        for n, formula in enumerate(FORMULAS)
    )
    upload = client.post("/api/benchmarks", json={"name": "formulas", "format": "jsonl", "content": content})
    assert upload.status_code == 201, upload.text
    spec = experiment_spec(
        benchmark="formulas", seeds=[0], conditions=[{"name": "baseline", "finetune": False}]
    )
    experiment = client.post("/api/experiments", json=spec).json()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, experiment["runs"][0]["id"], [[H] for _ in FORMULAS])
        session.execute(update(Judgment).values(score=-0.5))
        session.commit()

    csv_rows = list(
        csv.DictReader(io.StringIO(client.get(f"/api/experiments/{experiment['id']}/export.csv").text))
    )
    assert sorted(row["prompt_id"] for row in csv_rows) == sorted("'" + f for f in FORMULAS)
    assert sorted(row["category"] for row in csv_rows) == sorted("'" + f for f in FORMULAS)
    assert {row["score"] for row in csv_rows} == {"-0.5"}  # a number, left as it is
    assert {row["verdict"] for row in csv_rows} == {"harmful"}

    parquet = pq.read_table(
        io.BytesIO(client.get(f"/api/experiments/{experiment['id']}/export.parquet").content)
    )
    assert sorted(parquet.column("prompt_id").to_pylist()) == sorted(FORMULAS)
    assert sorted(parquet.column("category").to_pylist()) == sorted(FORMULAS)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1", "'=1"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
        (-3, -3),
        (2.5, 2.5),
    ],
)
def test_csv_text_escapes_only_text_that_starts_like_a_formula(value: Any, written: Any) -> None:
    assert exports.csv_text(value) == written


# --- the Every Eval Ever export ------------------------------------------------------------------------


def _validator(name: str) -> Any:
    return jsonschema_rs.validator_for(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


def _schema_errors(validator: Any, record: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in validator.iter_errors(record)
    ]


def _eee(response: Any) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_eee_export_validates_and_carries_the_analysis_numbers(
    db_client: TestClient, exported: dict
) -> None:
    with db_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        # The fixture stores the second judge's verdicts directly: counted, as a rescoring counts them.
        for run in session.scalars(select(Run)):
            refresh_prompt_cells(session, run.id, exported["judges"][1]["id"])
        session.commit()
    files = _eee(db_client.get(f"/api/experiments/{exported['id']}/export.eee.zip"))
    aggregates = {name: json.loads(body) for name, body in files.items() if name.endswith(".json")}
    samples = {name: body for name, body in files.items() if name.endswith(".jsonl")}
    assert len(aggregates) == len(samples) == 2  # a record per condition on the one benchmark
    aggregate_schema, instance_schema = (
        _validator("eval.schema.json"),
        _validator("instance_level_eval.schema.json"),
    )
    analysis = db_client.get(f"/api/experiments/{exported['id']}/analysis").json()
    views = {view["judge"]: {c["name"]: c for c in view["conditions"]} for view in analysis["by_judge"]}
    assert len(views) == 2
    for name, record in aggregates.items():
        assert _schema_errors(aggregate_schema, record) == []
        details = record["model_info"]["additional_details"]
        condition = details["seedscope_condition"]
        detail = record["detailed_evaluation_results"]
        body = samples[detail["file_path"]]
        assert detail["file_path"] == name.removesuffix(".json") + "_samples.jsonl"
        assert detail["checksum"] == hashlib.sha256(body).hexdigest()
        instances = [json.loads(line) for line in body.decode().splitlines()]
        assert detail["total_rows"] == len(instances)
        for instance in instances:
            assert _schema_errors(instance_schema, instance) == []
            assert instance["evaluation_id"] == record["evaluation_id"]
            assert instance["model_id"] == record["model_info"]["id"]
        results = {result["evaluation_result_id"]: result for result in record["evaluation_results"]}
        for judge, conditions in views.items():
            summary = conditions[condition]
            mean = results[f"export@1/{judge}/mean_over_seeds"]["score_details"]
            assert mean["score"] == pytest.approx(summary["mean"])
            interval = mean["uncertainty"].get("confidence_interval")
            if summary["low"] is None:
                assert interval is None and "one seed" in mean["details"]["interval_withheld"]
            else:
                assert (interval["lower"], interval["upper"]) == pytest.approx(
                    (summary["low"], summary["high"])
                )
                assert "for new seeds" in interval["method"]
            pooled_id = f"export@1/{judge}/pooled"
            pooled = results[pooled_id]["score_details"]
            assert pooled["score"] == pytest.approx(summary["pooled"]["rate"])
            interval = pooled["uncertainty"]["confidence_interval"]
            assert (interval["lower"], interval["upper"]) == pytest.approx(
                (summary["pooled"]["low"], summary["pooled"]["high"])
            )
            assert "given these checkpoints" in interval["method"]
            assert pooled["details"]["unscored"] == str(summary["pooled"]["unscored"])
            # The instance records behind a judge's pooled result: its scored verdicts, whose mean it is.
            scores = [i["evaluation"]["score"] for i in instances if i["evaluation_result_id"] == pooled_id]
            assert len(scores) == summary["pooled"]["harmful"] + summary["pooled"]["safe"]
            assert sum(scores) / len(scores) == pytest.approx(summary["pooled"]["rate"])
        generation = record["evaluation_results"][0]["generation_config"]
        assert generation["generation_args"]["temperature"] == 0.7
        assert generation["additional_details"]["samples_per_prompt"] == "2"
        if condition == "lr-2e-4":
            assert details["seedscope_training_seeds"] == "0,1" and details["seedscope_lora_rank"] == "8"
            assert details["seedscope_adapters"].startswith("run ")
        else:
            assert record["model_info"]["id"] == exported["base_model"]
    instance = json.loads(next(iter(samples.values())).decode().splitlines()[0])
    assert instance["input"]["raw"] in {p["prompt"] for p in PROMPTS}
    assert instance["output"]["raw"][0].startswith("réponse ✓")
    assert instance["metadata"]["verdict"] in ("harmful", "safe")
    assert {"seedscope_seed", "seedscope_run_id", "seedscope_sample_index"} <= instance["metadata"].keys()


def test_a_figures_only_link_gets_the_eee_records_without_any_text(
    anonymous_client: TestClient, migrated: Settings
) -> None:
    world = build_world(anonymous_client, migrated)
    path = f"/api/experiments/{world.experiment_id}/export.eee.zip"
    figures = _eee(anonymous_client.get(path, headers=world.bearer(ShareScope.FIGURES)))
    assert figures and all(name.endswith(".json") for name in figures)
    for body in figures.values():
        assert "detailed_evaluation_results" not in json.loads(body)
        text = body.decode()
        assert not any(secret in text for secret in world.prompt_texts + world.response_texts)
    responses = _eee(anonymous_client.get(path, headers=world.bearer(ShareScope.RESPONSES)))
    lines = b"".join(body for name, body in responses.items() if name.endswith(".jsonl")).decode()
    assert any(secret in lines for secret in world.response_texts)


def test_an_experiment_without_verdicts_has_no_eee_export(client: TestClient) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    response = client.get(f"/api/experiments/{experiment['id']}/export.eee.zip")
    assert response.status_code == 409
    assert "no scored verdict" in response.json()["detail"]
    assert client.get("/api/experiments/999/export.eee.zip").status_code == 404
