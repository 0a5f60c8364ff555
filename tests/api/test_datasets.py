"""Uploading benchmarks and training sets through the API."""

import json

from fastapi.testclient import TestClient


def test_benchmark_upload_then_use_in_an_experiment(client: TestClient) -> None:
    content = "\n".join(
        json.dumps({"id": f"p{i}", "prompt": f"request {i}", "category": "c"}) for i in range(3)
    )
    response = client.post("/api/benchmarks", json={"name": "mine", "format": "jsonl", "content": content})
    assert response.status_code == 201
    assert (response.json()["n_prompts"], response.json()["categories"]) == (3, ["c"])
    # The same content again is a no-op; different content under the same version is a conflict.
    again = client.post("/api/benchmarks", json={"name": "mine", "format": "jsonl", "content": content})
    assert again.json()["id"] == response.json()["id"]
    changed = client.post(
        "/api/benchmarks", json={"name": "mine", "format": "jsonl", "content": content + "\n{}"}
    )
    assert changed.status_code == 422
    different = client.post(
        "/api/benchmarks",
        json={"name": "mine", "format": "jsonl", "content": content.replace("request 0", "x")},
    )
    assert different.status_code == 409


def test_malformed_benchmark_upload_is_rejected_with_the_line(client: TestClient) -> None:
    response = client.post(
        "/api/benchmarks", json={"name": "bad", "format": "jsonl", "content": '{"prompt": "a"}\n{oops'}
    )
    assert response.status_code == 422
    assert "line 2" in response.json()["detail"]
    assert [b["name"] for b in client.get("/api/catalog").json()["benchmarks"]] == ["seedscope-harmful-demo"]


def test_training_set_upload(client: TestClient) -> None:
    content = json.dumps({"prompt": "2+2?", "response": "4"})
    response = client.post("/api/training-sets", json={"name": "tiny", "content": content})
    assert response.status_code == 201 and response.json()["n_examples"] == 1
    bad = client.post("/api/training-sets", json={"name": "bad", "content": '{"prompt": "x"}'})
    assert bad.status_code == 422 and "response" in bad.json()["detail"]
