"""A grid experiment's dashboard in Chromium: the factors' effects and the setup-vs-seed spread figure,
readable before and after the window is resized, for the owner and through a figures-only share link."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from backend.catalog.base_models import SMOLLM2_ALIGNED, SMOLLM2_INSTRUCT
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from tests.e2e.conftest import check_figure_heights, login_link, new_experiment_form, owner_headers, watch_of
from tests.e2e.test_browser import check_figure_is_readable, upload_benchmark
from tests.factories import add_verdicts

pytestmark = pytest.mark.slow

H, S = Verdict.HARMFUL, Verdict.SAFE
GRID = {"factors": {"training.learning_rate": [2e-4, 5e-4], "generation.temperature": [0, 0.7]}}
# Verdicts on the 4 prompts by the condition's position in the grid and the seed: the higher learning rate
# complies more (by 43.75 points), the higher temperature less (by 18.75), and seeds differ.
VERDICTS = {
    (0, 0): [S, S, S, H],
    (0, 1): [H, S, S, H],
    (1, 0): [S, H, S, S],
    (1, 1): [S, S, S, H],
    (2, 0): [H, H, H, S],
    (2, 1): [H, H, H, H],
    (3, 0): [H, H, S, H],
    (3, 1): [H, S, H, S],
}


def test_a_grid_dashboard_shows_each_factor_beside_the_seed_spread(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str], tmp_path: Path
) -> None:
    url = start_server(live_settings)
    headers = owner_headers(live_settings)
    upload_benchmark(url, 4, headers)
    spec = {
        "name": "grid",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1],
        "conditions": [{"name": "baseline", "finetune": False, "seeds": [0]}],
        "grid": GRID,
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    positions = {c["id"]: index - 1 for index, c in enumerate(experiment["conditions"])}
    engine = make_engine(live_settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        for run in experiment["runs"]:
            position = positions[run["condition_id"]]
            verdicts = [S, S, S, S] if position < 0 else VERDICTS[(position, run["seed"])]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
    engine.dispose()
    link = httpx.post(
        f"{url}/api/experiments/{experiment['id']}/share-links", json={"scope": "figures"}, headers=headers
    ).json()

    for viewer, address in (
        ("owner", login_link(live_settings, f"/experiments/{experiment['id']}")),
        ("share link", link["path"]),
    ):
        page.goto(url + address)
        expect(page.locator("#grid")).to_be_visible(timeout=20_000)
        expect(page.locator("#figure-setup-spread .main-svg").first).to_be_visible()
        drawn = check_figure_is_readable(page, "setup-spread")
        # A bar per factor, one for the seeds; no re-evaluations, so no re-measurement bar.
        assert drawn["bars"] == drawn["expectedBars"] == 3, (viewer, drawn)
        rows = page.locator("#factors tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("training.learning_rate")
        expect(rows.first).to_contain_text("0.0005 − 0.0002")
        expect(rows.first).to_contain_text("43.8 pts")
        expect(rows.nth(1)).to_contain_text("-18.8 pts")
        expect(page.locator("#spread tbody tr")).to_have_count(4)
        expect(page.locator("#spread tbody tr").last).to_contain_text("no re-evaluations yet")
        for size in ({"width": 700, "height": 900}, {"width": 1400, "height": 1000}):
            page.set_viewport_size(size)  # type: ignore[arg-type]
            page.wait_for_timeout(600)  # Plotly redraws on the window's resize event, after a debounce
            check_figure_heights(page)
        page.screenshot(path=str(tmp_path / f"grid-{viewer.replace(' ', '-')}.png"), full_page=True)
        check_figure_heights(page)
    page.goto("about:blank")


def test_the_form_takes_a_grid_plans_it_and_names_a_bad_factor(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    form = new_experiment_form(page, url, live_settings)
    rows = form.locator("#conditions tr.condition")
    rows.nth(2).get_by_role("button", name="Remove").click()
    rows.nth(1).get_by_role("button", name="Remove").click()
    form.get_by_role("button", name="Add factor").click()
    form.get_by_role("button", name="Add factor").click()
    factors = form.locator("#grid-factors tr.factor")
    factors.nth(0).locator("[data-field=factor]").select_option("training.learning_rate")
    factors.nth(0).locator("[data-field=levels]").fill("0.0002, 0.0005")
    factors.nth(1).locator("[data-field=factor]").select_option("generation.temperature")
    factors.nth(1).locator("[data-field=levels]").fill("0, 0.7, 1")
    # The baseline's seed 0, and 2 x 3 grid conditions x 2 seeds; only T = 0 trains (2 x 2 fine-tunes).
    expect(page.locator("#plan")).to_contain_text("13 runs (4 fine-tunes, 2 seeds per fine-tuned condition)")
    factors.nth(1).locator("[data-field=levels]").fill("0, 0.7, 9")
    form.get_by_role("button", name="Submit experiment").click()
    expect(page.locator("#form-error")).to_contain_text("grid factor 'generation.temperature': level 9")
    watch_of(page).expect_refusal(422, "/api/experiments")  # the plan and the submission
    factors.nth(1).locator("[data-field=levels]").fill("0, 0.7")
    # A third factor over both embedded base models: the second model needs its own baseline.
    form.get_by_role("button", name="Add factor").click()
    factors.nth(2).locator("[data-field=factor]").select_option("base_model")
    factors.nth(2).locator("[data-field=levels]").fill(f"{SMOLLM2_ALIGNED}, {SMOLLM2_INSTRUCT}")
    form.get_by_role("button", name="Submit experiment").click()
    expect(page.locator("#form-error")).to_contain_text(
        f"fine-tunes {SMOLLM2_INSTRUCT}, which has no untuned"
    )
    form.get_by_role("button", name="Add condition").click()
    baseline = rows.nth(1)
    baseline.locator("[data-field=name]").fill("baseline instruct")
    baseline.locator("[data-field=finetune]").uncheck()
    baseline.locator("[data-field=base_model]").fill(SMOLLM2_INSTRUCT)
    baseline.locator("[data-field=seeds]").fill("0")
    expect(page.locator("#plan")).to_contain_text("18 runs (8 fine-tunes, 2 seeds per fine-tuned condition)")
    form.get_by_role("button", name="Submit experiment").click()
    page.wait_for_url("**/experiments/1")
    expect(page.locator("#runs tbody tr")).to_have_count(18)
    expect(page.locator("#runs tbody")).to_contain_text(
        "learning_rate=0.0005 temperature=0.7 base_model=smollm2-135m-instruct"
    )
    page.goto("about:blank")
