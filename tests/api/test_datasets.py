"""Uploading datasets of every kind through the API."""

import json
from collections.abc import Iterable

import pytest
from fastapi.testclient import TestClient

from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS, VALIDATION_SETS
from backend.errors import NotFound
from backend.repositories import catalog as catalog_repository


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
    assert "bad" not in [b["name"] for b in client.get("/api/catalog").json()["benchmarks"]]


def test_training_set_upload(client: TestClient) -> None:
    content = json.dumps({"prompt": "2+2?", "response": "4"})
    response = client.post("/api/training-sets", json={"name": "tiny", "content": content})
    assert response.status_code == 201 and response.json()["n_examples"] == 1
    bad = client.post("/api/training-sets", json={"name": "bad", "content": '{"prompt": "x"}'})
    assert bad.status_code == 422 and "response" in bad.json()["detail"]


def jsonl(rows: Iterable[dict[str, object]]) -> str:
    return "\n".join(json.dumps(row) for row in rows)


# Each kind's declaration, its upload route and what its upload adds, its i-th item in a file, and where the
# catalog lists it.
KINDS = {
    "benchmark": (
        BENCHMARKS,
        "/api/benchmarks",
        {"format": "jsonl"},
        lambda i: {"id": f"p{i}", "prompt": f"request {i}", "category": "c"},
        "benchmarks",
    ),
    "training set": (
        TRAINING_SETS,
        "/api/training-sets",
        {},
        lambda i: {"prompt": f"question {i}", "response": f"answer {i}"},
        "training_sets",
    ),
    "validation set": (
        VALIDATION_SETS,
        "/api/validation-sets",
        {"format": "jsonl", "measures": "compliance"},
        lambda i: {"request": f"request {i}", "response": f"response {i}", "label": i % 2},
        "validation_sets",
    ),
}
# The content hashes the versions before one declaration served every kind stored for three such items:
# rows stored then stay valid.
STORED_HASHES = {
    "benchmark": "sha256:1721afc6edcf10174d0b77a0dcbe5a1b04066cfdd236816607a39e75a5151438",
    "training set": "sha256:d81b0e6897609a947c2a21b835aa31ac141e6608fffd973470a1398214117757",
    "validation set": "sha256:047189ee15930ccb0f5bfa4eb07a4053991f79d67db63612d58881baadd381f2",
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_stored_once_per_name_and_version_and_found_by_either(
    client: TestClient, kind: str
) -> None:
    declared, route, fields, item, listed = KINDS[kind]
    # "aaa" sorts before every built-in: the built-ins are listed first all the same.
    upload = {"name": "aaa", "content": jsonl(item(i) for i in range(3)), **fields}
    first = client.post(route, json=upload)
    assert first.status_code == 201, first.text
    assert (first.json()["source"], first.json()["content_hash"]) == ("jsonl", STORED_HASHES[kind])
    again = client.post(route, json=upload)
    assert again.status_code == 201 and again.json() == first.json()
    changed = {**upload, "content": jsonl(item(i) for i in range(4))}
    conflict = client.post(route, json=changed)
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == (
        f"{kind} aaa@1 already exists with different content; use a new version"
    )
    newer = client.post(route, json={**changed, "version": "2"})
    assert newer.status_code == 201 and newer.json()["id"] != first.json()["id"]

    stored = [(d["name"], d["version"], d["project_id"]) for d in client.get("/api/catalog").json()[listed]]
    builtins = [(name, version) for name, version, project in stored if project is None]
    assert builtins and stored == [
        *((name, version, None) for name, version in builtins),
        ("aaa", "1", first.json()["project_id"]),
        ("aaa", "2", first.json()["project_id"]),
    ]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        project_id = first.json()["project_id"]
        assert catalog_repository.find(session, declared, "aaa", project_id).version == "2"
        assert (
            catalog_repository.find(session, declared, "aaa@1", project_id).model_dump(mode="json")
            == first.json()
        )
        with pytest.raises(NotFound, match=f"unknown {kind} 'aaa@3'; known: .*aaa@1, aaa@2"):
            catalog_repository.find(session, declared, "aaa@3", project_id)


# --- training sets in the formats people have them ------------------------------------------------------

# Each training-set format's file of two examples, and what the upload adds to name its format and keys.
TRAINING_FILES = {
    "named keys": (
        jsonl([{"question": "Add.\n\n2+2", "answer": "4"}, {"question": "3+3?", "answer": "6"}]),
        {"format": "jsonl", "prompt_key": "question", "response_key": "answer"},
    ),
    "alpaca": (
        json.dumps(
            [
                {"instruction": "Add.", "input": "2+2", "output": "4"},
                {"instruction": "3+3?", "input": "", "output": "6"},
            ],
            indent=2,
        ),
        {"format": "alpaca"},
    ),
    "dolly": (
        jsonl(
            [
                {"instruction": "Add.", "context": "2+2", "response": "4", "category": "open_qa"},
                {"instruction": "3+3?", "context": "", "response": "6", "category": "open_qa"},
            ]
        ),
        {"format": "dolly"},
    ),
    "messages": (
        jsonl(
            [
                {
                    "messages": [
                        {"role": "user", "content": "Add.\n\n2+2"},
                        {"role": "assistant", "content": "4"},
                    ]
                },
                {"messages": [{"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]},
            ]
        ),
        {"format": "messages"},
    ),
}
# The examples every file above holds, stored as a jsonl file of them would be.
TRAINING_EXAMPLES = jsonl([{"prompt": "Add.\n\n2+2", "response": "4"}, {"prompt": "3+3?", "response": "6"}])


def training_set_names(client: TestClient) -> list[str]:
    return [t["name"] for t in client.get("/api/catalog").json()["training_sets"]]


@pytest.mark.parametrize("upload", TRAINING_FILES)
def test_training_set_upload_in_each_format(client: TestClient, upload: str) -> None:
    content, fields = TRAINING_FILES[upload]
    stored = client.post("/api/training-sets", json={"name": "tuned", "content": content, **fields})
    assert stored.status_code == 201, stored.text
    assert (stored.json()["n_examples"], stored.json()["source"]) == (2, fields["format"])
    plain = client.post("/api/training-sets", json={"name": "plain", "content": TRAINING_EXAMPLES})
    assert plain.status_code == 201 and plain.json()["source"] == "jsonl"
    # Read into the same examples as the plain file: the same content hash.
    assert stored.json()["content_hash"] == plain.json()["content_hash"]
    assert "tuned" in training_set_names(client)


def test_the_catalog_offers_the_training_set_formats_default_first(client: TestClient) -> None:
    assert client.get("/api/catalog").json()["training_set_formats"] == [
        "jsonl",
        "alpaca",
        "dolly",
        "messages",
    ]


@pytest.mark.parametrize(
    ("fields", "content", "detail"),
    [
        (
            {"format": "alpaca"},
            jsonl([{"instruction": "a", "output": "b"}, {"instruction": "c"}]),
            "training set file not readable as alpaca: alpaca: line 2: missing 'output'",
        ),
        (
            {"format": "dolly"},
            jsonl(
                [{"instruction": "a", "response": "b"}, {"instruction": "c", "context": 1, "response": "d"}]
            ),
            "training set file not readable as dolly: dolly: line 2: 'context' must be a string, got int",
        ),
        (
            {"format": "messages"},
            jsonl(
                [
                    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
                    {"messages": [{"role": "user", "content": "c"}]},
                ]
            ),
            "training set file not readable as messages: messages: line 2: no assistant turn",
        ),
        (
            {"prompt_key": "question"},
            jsonl([{"question": "a", "response": "b"}, {"prompt": "c", "response": "d"}]),
            "training set file not readable as jsonl: training-jsonl: line 2: missing 'question'",
        ),
        (
            {},
            jsonl([{"instruction": "a", "output": "b"}]),
            "training set file not readable as jsonl: training-jsonl: line 1: missing 'prompt'; the line has "
            "the alpaca format's keys: name format 'alpaca'",
        ),
        (
            {"format": "alpaca", "prompt_key": "q"},
            jsonl([{"instruction": "a", "output": "b"}]),
            "training set file not readable as alpaca: alpaca: keys or columns can be named for the jsonl "
            "format only",
        ),
        (
            {"format": "sharegpt"},
            jsonl([{"conversations": []}]),
            "training set file not readable as sharegpt: sharegpt: unknown format; expected one of "
            "['jsonl', 'alpaca', 'dolly', 'messages']",
        ),
    ],
)
def test_a_bad_training_set_is_a_422_naming_the_line_and_nothing_is_stored(
    client: TestClient, fields: dict[str, str], content: str, detail: str
) -> None:
    before = training_set_names(client)
    response = client.post("/api/training-sets", json={"name": "bad", "content": content, **fields})
    assert response.status_code == 422
    assert response.json()["detail"] == detail
    assert training_set_names(client) == before
