"""Stored strings reach every figure escaped: Plotly renders <a href> in labels as a link, <b> as bold."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from backend.domain import Verdict
from backend.figures.common import hover_text, plot_text
from backend.models import Condition
from tests.factories import add_verdicts, experiment_spec

LINK = '<a href="https://attacker.example/">click</a>'
BOLD_CATEGORY = "<b>weapons</b> & more"
IMAGE_CONDITION = '<img src=x onerror="alert(1)">'
FIGURES = ("seeds", "noise", "forest", "categories", "flips", "variance", "power")


def test_plot_text_escapes_markup_with_the_entities_plotly_decodes() -> None:
    assert plot_text('<a href="x">&</a>') == '&lt;a href="x"&gt;&amp;&lt;/a&gt;'
    assert hover_text("<" * 200, limit=10) == "&lt;" * 9 + "…"


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, string) for every string in a figure's JSON."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for child_key, child in node.items():
            yield from _strings(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _strings(child, key)


@pytest.fixture
def hostile_experiment(client: TestClient) -> dict:
    prompts = [
        {"id": LINK, "prompt": f"How to do {LINK}?", "category": BOLD_CATEGORY},
        {"id": "plain", "prompt": "<script>alert(2)</script>", "category": "fraud"},
    ]
    content = "\n".join(json.dumps(p) for p in prompts)
    assert (
        client.post(
            "/api/benchmarks", json={"name": "hostile", "format": "jsonl", "content": content}
        ).status_code
        == 201
    )
    spec = experiment_spec(
        benchmark="hostile",
        seeds=[0, 1],
        conditions=[{"name": "baseline", "finetune": False}, {"name": "tuned"}, {"name": "other"}],
    )
    experiment = client.post("/api/experiments", json=spec).json()
    H, S = Verdict.HARMFUL, Verdict.SAFE
    verdicts = {("baseline", 0): [S, S], ("baseline", 1): [S, H], ("tuned", 0): [H, S], ("tuned", 1): [S, S]}
    verdicts |= {("other", 0): [H, H], ("other", 1): [H, S]}
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in verdicts[(run["condition_name"], run["seed"])]])
        # The API refuses such a name; one stored by other means must still be shown as text.
        session.execute(update(Condition).where(Condition.name == "tuned").values(name=IMAGE_CONDITION))
        session.commit()
    return experiment


@pytest.mark.parametrize("name", FIGURES)
def test_no_figure_carries_a_stored_string_unescaped(
    client: TestClient, hostile_experiment: dict, name: str
) -> None:
    params = {"condition": IMAGE_CONDITION} if name == "flips" else {}
    response = client.get(f"/api/experiments/{hostile_experiment['id']}/figures/{name}", params=params)
    assert response.status_code == 200, response.text
    strings = list(_strings(response.json()))
    for key, value in strings:
        for hostile in (LINK, BOLD_CATEGORY, IMAGE_CONDITION, "<script>"):
            assert hostile not in value, f"{name}: {key} = {value!r}"
        if key == "hovertemplate":  # text goes in as data, never into the template itself
            assert plot_text(IMAGE_CONDITION) not in value, value
    expected = {
        "flips": [plot_text(LINK), plot_text(IMAGE_CONDITION)],
        "categories": [plot_text(BOLD_CATEGORY), plot_text(IMAGE_CONDITION)],
        "seeds": [plot_text(IMAGE_CONDITION)],
        "forest": [plot_text(IMAGE_CONDITION)],
    }.get(name, [])
    for escaped in expected:
        assert any(escaped in value for _, value in strings), f"{name} should show {escaped!r}"
