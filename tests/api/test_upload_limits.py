"""Every dataset upload (benchmarks, training sets, validation sets) is bounded in size, items, columns and
line length, each refusal a 4xx naming its setting, and every check on the file is linear in its size: the
wide headers that made the CSV check quadratic (200,000 columns: over ten minutes) are refused at once, or,
where the operator allows that many columns, read in one pass."""

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from backend.catalog.files import DatasetFormatError, read_csv

OperatorClient = Callable[..., TestClient]
WIDE = 200_000


def benchmark(content: str, format: str | None = "csv", **fields: object) -> dict:
    return {"name": "wide", "format": format, "content": content, **fields}


def validation_set(content: str, format: str = "csv") -> dict:
    return {"name": "pairs", "format": format, "content": content}


def wide_header(columns: int, *extra: str) -> str:
    return (
        ",".join([*(f"c{i}" for i in range(columns)), *extra])
        + "\n"
        + ",".join(["x"] * (columns + len(extra)))
    )


def detail(response: object) -> str:
    return str(response.json()["detail"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("route", "body", "file", "columns"),
    [
        ("/api/benchmarks", benchmark(wide_header(WIDE, "prompt")), "benchmark", WIDE + 1),
        (
            "/api/benchmarks",
            benchmark(wide_header(WIDE, "prompt"), format=None, filename="wide.csv"),
            "benchmark",
            WIDE + 1,
        ),
        (
            "/api/benchmarks",
            benchmark(wide_header(WIDE, "behavior"), format="harmbench-csv"),
            "benchmark",
            WIDE + 1,
        ),
        (
            "/api/validation-sets",
            validation_set(wide_header(WIDE, "request", "response", "label")),
            "validation set",
            WIDE + 3,
        ),
    ],
)
def test_a_header_of_200000_columns_is_refused_naming_the_setting(
    client: TestClient, route: str, body: dict, file: str, columns: int
) -> None:
    response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    assert detail(response) == (
        f"the number of columns of the {file} file is {columns:,}, over the limit of 100 "
        "(set by SEEDSCOPE_MAX_UPLOAD_COLUMNS)"
    )


def test_where_the_operator_allows_wide_files_the_header_is_checked_in_one_pass(
    operator_client: OperatorClient,
) -> None:
    client = operator_client(max_upload_columns=1_000_000, max_upload_line_chars=2_000_000)
    duplicated = wide_header(WIDE, "prompt", "c7")
    response = client.post("/api/benchmarks", json=benchmark(duplicated))
    assert response.status_code == 422
    assert "duplicate column(s) ['c7']" in detail(response)
    # A message about such a header names a few of its columns, not all of them.
    missing = client.post("/api/benchmarks", json=benchmark(wide_header(WIDE), format="harmbench-csv"))
    assert missing.status_code == 422 and "and 199,980 more" in detail(missing)
    assert len(detail(missing)) < 1000


def test_the_csv_reader_finds_duplicate_columns_of_a_wide_header() -> None:
    with pytest.raises(DatasetFormatError, match=r"duplicate column\(s\) \['c1', 'c2'\]"):
        read_csv("csv", wide_header(WIDE, "c2", "c1"))


def test_a_field_over_the_csv_modules_limit_in_a_guessed_header_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/api/benchmarks", json=benchmark("a" * 200_000 + ",prompt\n1,2\n", None, filename="x.csv")
    )
    assert response.status_code == 422 and "field larger than field limit" in detail(response)


def jsonl(rows: list[dict]) -> str:
    return "\n".join(json.dumps(row) for row in rows)


PROMPTS = jsonl([{"prompt": f"request {i}"} for i in range(4)])
EXAMPLES = jsonl([{"prompt": f"q{i}", "response": f"a{i}"} for i in range(4)])
PAIRS = jsonl([{"request": f"q{i}", "response": f"a{i}", "label": "safe"} for i in range(4)])
UPLOADS = [
    ("/api/benchmarks", benchmark(PROMPTS, "jsonl"), "prompts", "benchmark file"),
    ("/api/training-sets", {"name": "t", "content": EXAMPLES}, "examples", "training set file"),
    ("/api/validation-sets", validation_set(PAIRS, "jsonl"), "labelled pairs", "validation set file"),
]


@pytest.mark.parametrize(("route", "body", "items", "file"), UPLOADS)
def test_every_upload_is_bounded_in_items(
    operator_client: OperatorClient, route: str, body: dict, items: str, file: str
) -> None:
    response = operator_client(max_upload_items=3).post(route, json=body)
    assert response.status_code == 422
    assert detail(response) == (
        f"the number of {items} in the file is 4, over the limit of 3 (set by SEEDSCOPE_MAX_UPLOAD_ITEMS)"
    )


@pytest.mark.parametrize(("route", "body", "items", "file"), UPLOADS)
def test_every_upload_is_bounded_in_size(
    operator_client: OperatorClient, route: str, body: dict, items: str, file: str
) -> None:
    padded = {**body, "content": body["content"] + "\n" * 2000}
    response = operator_client(max_upload_bytes=1024).post(route, json=padded)
    assert response.status_code == 413
    assert detail(response).startswith(f"the size of the {file} in bytes is ")
    assert detail(response).endswith("over the limit of 1,024 (set by SEEDSCOPE_MAX_UPLOAD_BYTES)")


@pytest.mark.parametrize(("route", "body", "items", "file"), UPLOADS)
def test_every_upload_is_bounded_in_line_length(
    operator_client: OperatorClient, route: str, body: dict, items: str, file: str
) -> None:
    # A long line of keys no reader uses: no other limit sees it.
    long_line = json.dumps({**json.loads(body["content"].split("\n")[0]), "note": "x" * 500})
    content = body["content"] + "\n" + long_line.replace("0", "9")
    response = operator_client(max_upload_line_chars=200).post(route, json={**body, "content": content})
    assert response.status_code == 422
    assert detail(response) == (
        f"the length of line 5 of the {file} in characters is {len(long_line):,}, over the limit of 200 "
        "(set by SEEDSCOPE_MAX_UPLOAD_LINE_CHARS)"
    )


def test_a_validation_pairs_texts_are_bounded_like_a_training_examples(
    operator_client: OperatorClient,
) -> None:
    long = jsonl([{"request": "q", "response": "r" * 101, "label": "safe"}])
    response = operator_client(max_example_chars=100).post(
        "/api/validation-sets", json=validation_set(long, "jsonl")
    )
    assert response.status_code == 422
    assert detail(response) == (
        "the length of pair 1's response in characters is 101, over the limit of 100 "
        "(set by SEEDSCOPE_MAX_EXAMPLE_CHARS)"
    )
