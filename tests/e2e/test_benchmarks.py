"""An experiment on two benchmarks in Chromium: the benchmark selector redraws every figure and table on the
chosen benchmark, and "Under each benchmark" shows a conclusion that turns around between them."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from tests.e2e.conftest import check_figure_heights, login_link, owner_headers
from tests.e2e.test_browser import check_figure_is_readable
from tests.factories import add_verdicts

pytestmark = pytest.mark.slow

H, S = Verdict.HARMFUL, Verdict.SAFE
FIRST, SECOND = "seedscope-harmful-demo@1", "seedscope-harmful-demo-b@1"
N_PROMPTS = 48


def _verdicts(condition: str, seed: int) -> list[Verdict]:
    """On the first benchmark the fine-tune complies more than the baseline; on the second, less."""
    if condition == "baseline":
        return [S] * N_PROMPTS + [H] * N_PROMPTS
    complied = 30 + 4 * seed
    return [H] * complied + [S] * (N_PROMPTS - complied) + [S] * (N_PROMPTS - 5) + [H] * 5


def test_the_benchmark_selector_and_under_each_benchmark(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str], tmp_path: Path
) -> None:
    url = start_server(live_settings)
    headers = owner_headers(live_settings)
    spec = {
        "name": "two benchmarks",
        "benchmarks": [FIRST, SECOND],
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1],
        "conditions": [{"name": "baseline", "finetune": False, "seeds": [0]}, {"name": "tuned"}],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    engine = make_engine(live_settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in _verdicts(run["condition_name"], run["seed"])])
    engine.dispose()
    link = httpx.post(
        f"{url}/api/experiments/{experiment['id']}/share-links", json={"scope": "responses"}, headers=headers
    ).json()

    for viewer, address in (
        ("owner", login_link(live_settings, f"/experiments/{experiment['id']}")),
        ("share link", link["path"]),
    ):
        page.goto(url + address)
        expect(page.locator("#by-benchmark")).to_be_visible(timeout=20_000)
        expect(page.locator("#by-benchmark-rates thead")).to_contain_text(FIRST)
        expect(page.locator("#by-benchmark-rates thead")).to_contain_text(SECOND)
        comparison = page.locator("#by-benchmark-comparisons tbody tr").first
        expect(comparison).to_contain_text("tuned − baseline")
        expect(comparison).to_contain_text("66.7 pts")
        expect(comparison).to_contain_text("-89.6 pts")
        expect(page.locator("#figure-seeds .gtitle")).to_contain_text(f"· on {FIRST}")
        page.locator("#benchmark").select_option(SECOND)
        for name in ("seeds", "forest", "categories"):
            expect(page.locator(f"#figure-{name} .gtitle")).to_contain_text(f"· on {SECOND}")
        check_figure_is_readable(page, "seeds")
        expect(page.locator("#prompts tbody tr").first).to_contain_text("hb-001")
        for size in ({"width": 700, "height": 900}, {"width": 1400, "height": 1000}):
            page.set_viewport_size(size)  # type: ignore[arg-type]
            page.wait_for_timeout(600)  # Plotly redraws on the window's resize event, after a debounce
            check_figure_heights(page)
        page.screenshot(path=str(tmp_path / f"benchmarks-{viewer.replace(' ', '-')}.png"), full_page=True)
        check_figure_heights(page)
    page.goto("about:blank")
