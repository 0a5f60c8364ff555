"""Every integer a URL carries is bounded, so none reaches the database as an out-of-range number (which
SQLite and PostgreSQL refuse with errors of their own). A new route with an unbounded one fails here."""

from typing import Any

from fastapi.testclient import TestClient

from backend.api.deps import MAX_ID


def _integer_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    if schema.get("type") == "integer":
        return schema
    options = [s for s in schema.get("anyOf", []) if s.get("type") == "integer"]
    return options[0] if options else None


def test_every_integer_path_and_query_parameter_has_a_64_bit_bound(client: TestClient) -> None:
    unbounded, checked = [], 0
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                integer = _integer_schema(parameter["schema"])
                if integer is None:
                    continue
                checked += 1
                if integer.get("maximum", MAX_ID + 1) > MAX_ID:
                    unbounded.append(f"{method.upper()} {path}: {parameter['name']}")
    assert checked > 20, "the schema lists the ids, pages and limits"
    assert unbounded == []
