"""Parse patterns of judge definitions: only what RE2 runs (linear time) is saved, and definitions saved
under older rules are still read as they were saved."""

import pytest
from fastapi.testclient import TestClient

from backend.models import JudgeDefinition
from tests.factories import causal_judge_spec
from tests.support.responses import refused


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"^(\w+) \1", "backreferences (\\1, \\2, ...) are not supported"),
        (r"(?=yes)(\w+)", "lookahead"),
        (r"(?<!not )(yes|no)", "lookbehind"),
        (r"(\w++)", "possessive quantifiers"),
        (r"(?>(\w+))", "atomic groups"),
        (r"((a{100}){100})", "a repetition count is over 1,000"),
    ],
)
def test_parse_patterns_that_need_backtracking_are_refused(
    client: TestClient, pattern: str, reason: str
) -> None:
    refused(client.post("/api/judges", json=causal_judge_spec("org/model", pattern)), 422, reason, "RE2")


def test_a_catastrophic_pattern_is_accepted_because_it_cannot_backtrack(client: TestClient) -> None:
    assert client.post("/api/judges", json=causal_judge_spec("org/model", r"^(a+)+$")).status_code == 201


def test_definitions_saved_under_older_rules_are_still_read(client: TestClient) -> None:
    """Stored definitions are never changed, and verdicts point at them: one saved before endpoints were
    normalised and patterns ran on RE2 is listed and read as it was saved (the worker refuses to run it)."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.add(
            JudgeDefinition(
                project_id=1,
                name="legacy",
                version=1,
                kind="openai-chat",
                model="m",
                endpoint="http://Judge.Example.org/v1?api-version=2",
                template="{response}",
                parse_rule={"rule": "label", "pattern": r"(\w+) \1", "labels": {"yes": "harmful"}},
                options={"temperature": 0.0},
                content_hash="sha256:legacy",
            )
        )
        session.commit()
    (legacy,) = [judge for judge in client.get("/api/judges").json() if judge["name"] == "legacy"]
    assert legacy["config"]["endpoint"] == "http://Judge.Example.org/v1?api-version=2"
    assert legacy["config"]["parse"]["pattern"] == r"(\w+) \1"
    assert client.get(f"/api/judges/{legacy['id']}").status_code == 200
