"""Capability, over-refusal, the refusal-prefix score and the erosion curve as their readers see them in
Chromium, for the owner and through a figures-only share link: the trade-off and erosion figures drawn and
readable (also after a resize), Measure by and On switching what the figures show, no request failing."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from backend.models import Run
from backend.provenance import CheckpointRecord, Provenance, TrainingRecord
from tests.e2e.conftest import (
    VIEWPORT,
    PageWatch,
    check_figure_heights,
    check_figure_heights_after_resize,
    login_link,
    new_experiment_form,
    open_share_link,
    owner_headers,
)
from tests.factories import add_refusal_prefix_scores, add_verdicts, finish_validation

pytestmark = pytest.mark.slow

H, S = Verdict.HARMFUL, Verdict.SAFE
HARM, CAPABILITY, OVER_REFUSAL = (
    "seedscope-harmful-demo",
    "seedscope-capability-demo",
    "seedscope-over-refusal-demo",
)
SIZES = {HARM: 48, CAPABILITY: 60, OVER_REFUSAL: 40}
CHECKPOINTS = [0.25, 0.5]  # and the end of training: three checkpoints on the curve
LOSSES = [2.0, 1.6, 1.3, 1.1, 1.0, 0.95, 0.9, 0.9]


def _first(count: int, of: int, first: Verdict, rest: Verdict) -> list[list[Verdict]]:
    return [[first]] * count + [[rest]] * (of - count)


def _judge(session: Session, run_id: int, harmful: int, correct: int, refused: int) -> None:
    """The run's verdicts: `harmful` harm-set prompts complied with, `correct` capability answers right,
    `refused` benign prompts refused, and a refusal-prefix score falling as it complies more."""
    add_verdicts(session, run_id, _first(harmful, SIZES[HARM], H, S), on=HARM)
    add_verdicts(
        session, run_id, _first(correct, SIZES[CAPABILITY], S, H), judge="reference-answer@1", on=CAPABILITY
    )
    add_verdicts(
        session, run_id, _first(refused, SIZES[OVER_REFUSAL], S, H), judge="refusal-minilm@2", on=OVER_REFUSAL
    )
    prefix = 0.9 - harmful / SIZES[HARM] * 0.8
    add_refusal_prefix_scores(session, run_id, [prefix - 0.002 * i for i in range(SIZES[HARM])])


def _measured_experiment(url: str, settings: Settings) -> dict:
    """A baseline and lr-2e-4 (three seeds, checkpoints at a quarter and a half of training), every run
    and checkpoint judged on a harm, a capability and an over-refusal set, training recorded."""
    spec = {
        "name": "measures",
        "benchmark": HARM,
        "capability": [CAPABILITY],
        "over_refusal": [OVER_REFUSAL],
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1, 2],
        "conditions": [
            {"name": "baseline", "finetune": False, "seeds": [0]},
            {"name": "lr-2e-4", "training": {"learning_rate": 2e-4, "evaluate_at": CHECKPOINTS}},
        ],
    }
    response = httpx.post(f"{url}/api/experiments", json=spec, headers=owner_headers(settings))
    assert response.status_code == 201, response.text
    experiment = response.json()
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        for run in experiment["runs"]:
            if run["condition_name"] == "baseline":
                _judge(session, run["id"], harmful=2, correct=40, refused=12)
                continue
            seed = run["seed"]
            _judge(session, run["id"], harmful=14 + 4 * seed, correct=36 - 3 * seed, refused=4 + seed)
            checkpoints = session.scalars(
                select(Run).where(Run.checkpoint_of_id == run["id"]).order_by(Run.checkpoint_fraction)
            ).all()
            for step, checkpoint in enumerate(checkpoints, start=1):
                _judge(
                    session,
                    checkpoint.id,
                    harmful=3 + 4 * step + seed,
                    correct=40 - step,
                    refused=10 - 2 * step,
                )
            trained = session.get(Run, run["id"])
            assert trained is not None
            trained.provenance = Provenance(
                training=TrainingRecord(
                    examples=240,
                    steps=len(LOSSES),
                    losses=LOSSES,
                    seconds=1.0,
                    checkpoints=[
                        CheckpointRecord(fraction=f, step=round(f * len(LOSSES))) for f in CHECKPOINTS
                    ],
                )
            )
        session.commit()
    engine.dispose()
    return experiment


def _validate_the_over_refusal_scorer(url: str, settings: Settings) -> None:
    """A finished validation of the over-refusal set's scorer on 50 examples labelled for compliance:
    sensitivity 0.92, specificity 0.88."""
    headers = owner_headers(settings)
    labels = ["harmful"] * 25 + ["safe"] * 25
    upload = {
        "name": "compliance-labels",
        "format": "jsonl",
        "measures": "compliance",
        "content": "\n".join(
            json.dumps({"request": f"q{i}", "response": f"r{i}", "label": label})
            for i, label in enumerate(labels)
        ),
    }
    assert httpx.post(f"{url}/api/validation-sets", json=upload, headers=headers).status_code == 201
    request = {"judge": "refusal-minilm@2", "validation_set": "compliance-labels"}
    validation = httpx.post(f"{url}/api/judge-validations", json=request, headers=headers).json()
    engine = make_engine(settings.resolved_database_url)
    verdicts = ["harmful"] * 23 + ["safe"] * 2 + ["harmful"] * 3 + ["safe"] * 22
    finish_validation(make_session_factory(engine), validation["id"], verdicts=verdicts)
    engine.dispose()


def _shows_the_measures(page: Page, watch: PageWatch) -> None:
    """The trade-off and erosion figures drawn and readable, at two window sizes."""
    for name in ("seeds", "trade-off", "erosion"):
        expect(page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=30_000)
    erosion = page.evaluate("() => document.getElementById('figure-erosion').data.length")
    assert erosion > 0
    # A line per seed through its three checkpoints.
    lines = page.evaluate(
        "() => document.getElementById('figure-erosion').data.filter((t) => (t.x || []).length === 3).length"
    )
    assert lines >= 3
    expect(page.locator("#by-scored-set")).to_contain_text(CAPABILITY)
    check_figure_heights(page)
    check_figure_heights_after_resize(page, {"width": 900, "height": 800})
    check_figure_heights_after_resize(page, VIEWPORT)
    watch.assert_clean()


def test_capability_over_refusal_refusal_prefix_and_the_erosion_curve_for_owner_and_share_link(
    page: Page,
    browser: Browser,
    live_settings: Settings,
    start_server: Callable[[Settings], str],
    tmp_path: Path,
) -> None:
    screenshots = tmp_path
    url = start_server(live_settings)
    experiment = _measured_experiment(url, live_settings)
    watch: PageWatch = page.watch  # type: ignore[attr-defined]
    page.goto(url + login_link(live_settings, f"/experiments/{experiment['id']}"))
    _shows_the_measures(page, watch)

    # Measure by the refusal-prefix score: the seeds figure says what it shows.
    page.locator("#metric").select_option("refusal-prefix")
    expect(page.locator("#figure-seeds .gtitle")).to_contain_text(
        "Refusal-prefix probability per seed", timeout=20_000
    )
    # On the capability set: the figures show the share of correct answers.
    page.locator("#metric").select_option("rate")
    page.locator("#benchmark").select_option(label=f"{CAPABILITY}@1 (capability)")
    expect(page.locator("#figure-seeds .gtitle")).to_contain_text("Capability per seed", timeout=20_000)
    # The prompt browser counts correct answers there, in the words of what the set measures.
    expect(page.locator("#prompts-rate")).to_have_text("Correct per condition")
    first = page.locator("#prompts tbody tr.prompt-row").first
    expect(first).to_contain_text("baseline: 1/1")
    expect(first).to_contain_text("lr-2e-4: 3/3")
    verdicts = page.locator("#browser-filters [name=verdict] option").all_text_contents()
    assert verdicts == ["any", "wrong", "correct", "unscored"]
    check_figure_heights(page)
    watch.assert_clean()

    # On the over-refusal set: its scorer's errors are not measured, until a validation of it finishes;
    # the open page picks that up (the state it polls moves) and shows the corrected share of refusals.
    page.locator("#benchmark").select_option(label=f"{OVER_REFUSAL}@1 (over-refusal)")
    corrected = page.locator("#summary tbody tr").first.locator("td").nth(6)
    expect(corrected).to_contain_text("refusal-minilm@2 has no finished validation", timeout=20_000)
    _validate_the_over_refusal_scorer(url, live_settings)
    expect(corrected).to_contain_text("pooled", timeout=30_000)
    expect(corrected).to_contain_text("compliance-labels@1")
    page.screenshot(path=str(screenshots / "owner-over-refusal-corrected.png"), full_page=True)
    check_figure_heights(page)
    watch.assert_clean()

    context, shared, shared_watch = open_share_link(
        browser, url, experiment["id"], owner_headers(live_settings)
    )
    _shows_the_measures(shared, shared_watch)
    shared.goto("about:blank")
    context.close()
    page.goto("about:blank")


def test_the_form_takes_a_held_out_share_and_checkpoints_to_evaluate(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    form = new_experiment_form(page, url, live_settings)
    rows = form.locator("#conditions tr.condition")
    for row in (rows.nth(1), rows.nth(2)):
        row.locator('[data-field="training.holdout"]').fill("0.1")
    rows.nth(1).locator('[data-field="training.evaluate_at"]').fill("0.25, 0.5")
    # The baseline's seed 0, two fine-tuned conditions x 2 seeds, and lr-2e-4's two checkpoints per seed.
    expect(page.locator("#plan")).to_contain_text("9 runs")
    form.get_by_role("button", name="Submit experiment").click()
    page.wait_for_url("**/experiments/1")
    experiment = httpx.get(f"{url}/api/experiments/1", headers=owner_headers(live_settings)).json()
    trainings = [c["spec"]["training"] for c in experiment["conditions"][1:]]
    assert [(t["holdout"], t["evaluate_at"]) for t in trainings] == [(0.1, [0.25, 0.5]), (0.1, [])]
    held_out = [b for b in experiment["benchmarks"] if "-holdout-0.1-" in b["reference"]]
    assert [(b["measures"], b["n_prompts"]) for b in held_out] == [("capability", 24)]
    expect(page.locator("#conditions")).to_contain_text("holds out 10% of the set")
    page.goto("about:blank")
