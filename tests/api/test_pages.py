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
    assert client.get("/static/app.js").status_code == 200


def test_openapi_documents_the_json_and_yaml_submission(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/experiments"]
    assert "application/yaml" in paths["/api/experiments/yaml"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_catalog_offers_the_builtin_data_judges_and_models(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    assert [(b["name"], b["n_prompts"], len(b["categories"])) for b in catalog["benchmarks"]] == [
        ("seedscope-harmful-demo", 48, 8)
    ]
    assert [(t["name"], t["n_examples"]) for t in catalog["training_sets"]] == [
        ("seedscope-benign-demo", 240)
    ]
    assert {j["name"] for j in catalog["judges"]} == {"refusal-minilm", "refusal-phrases"}
    assert "embedded:smollm2-135m-aligned" in {m["name"] for m in catalog["models"]}
