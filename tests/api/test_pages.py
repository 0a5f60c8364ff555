from fastapi.testclient import TestClient

from tests.factories import experiment_spec


def test_pages_and_plotly_are_served_locally(client: TestClient) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    run = experiment["runs"][0]["id"]
    pages = (
        "/",
        "/login",
        "/experiments/new",
        f"/experiments/{experiment['id']}",
        f"/runs/{run}",
        "/projects",
    )
    for path in (*pages, "/account"):
        response = client.get(path)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
    plotly_js = client.get("/static/vendor/plotly.min.js")
    assert plotly_js.status_code == 200 and len(plotly_js.content) > 1_000_000
    assert client.get("/static/js/main.js").status_code == 200


def test_openapi_documents_the_json_and_yaml_submission(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/experiments"]
    assert "application/yaml" in paths["/api/experiments/yaml"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_catalog_offers_the_builtin_data_judges_and_models(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    assert [
        (b["name"], b["measures"], b["n_prompts"], len(b["categories"])) for b in catalog["benchmarks"]
    ] == [
        ("seedscope-capability-demo", "capability", 60, 3),
        ("seedscope-harmful-demo", "harm", 48, 8),
        ("seedscope-harmful-demo-b", "harm", 48, 8),
        ("seedscope-over-refusal-demo", "over_refusal", 40, 7),
        ("xstest", "over_refusal", 250, 10),
        ("xstest-contrast", "harm", 200, 8),
    ]
    assert [(t["name"], t["n_examples"]) for t in catalog["training_sets"]] == [
        ("seedscope-benign-demo", 240),
        ("seedscope-benign-dolly", 240),
    ]
    assert [(j["ref"], j["measures"], j["project_id"]) for j in catalog["judges"]] == [
        ("harmbench-llama-2-13b-cls@1", "harm", None),
        ("llama-guard-3-1b@1", "harm", None),
        ("llama-guard-3-8b@1", "harm", None),
        ("reference-answer@1", "capability", None),
        ("refusal-minilm@2", "compliance", None),
        ("refusal-phrases@2", "compliance", None),
        ("wildguard@1", "harm", None),
    ]
    assert [
        (v["name"], v["n_examples"], v["n_harmful"], v["measures"]) for v in catalog["validation_sets"]
    ] == [
        ("pyrit-refusal", 105, 35, "compliance"),
        ("pyrit-refusal-extra", 64, 25, "compliance"),
    ]
    assert {p["name"] for p in catalog["judge_presets"]} == {
        "strongreject",
        "causal-lm",
        "sequence-classifier",
    }
    assert "embedded:smollm2-135m-aligned" in {m["name"] for m in catalog["models"]}
