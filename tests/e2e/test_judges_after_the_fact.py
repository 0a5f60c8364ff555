"""Chromium and a real worker: an editor adds a judge to a finished experiment from its dashboard, the
worker judges the stored responses, the editor makes it the headline judge and stress-tests it (the open
dashboard shows each job's result by itself); a viewer and a figures-only share link see the judge and the
choice, and neither can change it."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from tests.e2e.conftest import (
    VIEWPORT,
    PageWatch,
    Service,
    check_figure_heights,
    check_figure_heights_after_resize,
    open_share_link,
)
from tests.e2e.test_browser import FIGURES
from tests.e2e.test_teams import _token_of, sign_in, team_experiment
from tests.factories import add_verdicts

pytestmark = pytest.mark.slow

OWNER, VIEWER = (
    ("ida@example.org", "a long owner passphrase"),
    ("vic@example.org", "a long viewer passphrase"),
)
ADDED = "refusal-phrases@2"


def figures_drawn(page: Page) -> None:
    for name in FIGURES:
        expect(page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=20_000)
    check_figure_heights(page)


def finished_experiment(url: str, settings: Settings) -> int:
    experiment, factory = team_experiment(url, settings, OWNER, VIEWER, 4, name="judged again")
    H, S = Verdict.HARMFUL, Verdict.SAFE
    with factory() as session:
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[H, S], [S, S], [H, H], [S, H]])
    return experiment["id"]


def test_a_judge_added_from_the_dashboard_judges_the_stored_responses_and_becomes_the_headline(
    browser: Browser,
    live_settings: Settings,
    start_server: Callable[[Settings], str],
    start_worker: Callable[..., Service],
    tmp_path: Path,
) -> None:
    url = start_server(live_settings)
    worker = start_worker(live_settings)
    experiment_id = finished_experiment(url, live_settings)
    dashboard = f"{url}/experiments/{experiment_id}"

    owner = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = owner.new_page()
    watch = PageWatch(page)
    sign_in(page, url, *OWNER)
    page.goto(dashboard)
    actions = page.locator("#judge-actions")
    expect(actions).to_be_visible()
    actions.locator("[name=judge]").select_option(ADDED)
    actions.get_by_role("button", name="Add and judge the stored responses").click()
    added = page.locator(f'[data-rescoring="{ADDED}"]')
    expect(added).to_contain_text("added after the runs", timeout=20_000)
    # The worker judges the 32 stored responses; the open dashboard picks it up by itself.
    expect(added).to_contain_text("judged 32 stored responses", timeout=90_000), worker.log()
    expect(page.locator("#by-judge")).to_be_visible()
    expect(page.locator("#by-judge-rates thead")).to_contain_text(ADDED)

    actions.locator("[name=headline]").select_option(ADDED)
    actions.get_by_role("button", name="Make headline").click()
    first = page.locator("#meta .judge").first
    expect(first).to_contain_text(f"{ADDED}")
    expect(first).to_contain_text(f"makes the rates, chosen by {OWNER[0]}")
    expect(page.locator("#report-text")).to_contain_text("Makes the headline rates: chosen by an editor on")

    # A stress test of the added judge: its section shows the flip rates once the worker is done, no reload.
    # From a fresh page, so that nothing but the stress test moves the state the page polls.
    page.reload()
    stress_form = page.locator("#stress-test-form")
    stress_form.locator("[name=judge]").select_option(ADDED)
    stress_form.locator("[name=size]").fill("10")
    stress_form.get_by_role("button", name="Start a stress test").click()
    stress_test = page.locator("#stress-test-list [data-stress-test]")
    expect(stress_test).to_have_count(1)
    (
        expect(stress_test).to_have_attribute("data-fragile", re.compile("^(true|false)$"), timeout=90_000),
        worker.log(),
    )
    expect(stress_test.locator("table.stress-flips tbody tr")).to_have_count(7)
    figures_drawn(page)
    page.screenshot(path=str(tmp_path / "owner.png"), full_page=True)
    check_figure_heights_after_resize(page, {"width": 900, "height": 900})
    watch.assert_clean()

    viewer = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    viewer_page = viewer.new_page()
    viewer_watch = PageWatch(viewer_page)
    sign_in(viewer_page, url, *VIEWER)
    viewer_page.goto(dashboard)
    expect(viewer_page.locator("#meta .judge").first).to_contain_text(f"chosen by {OWNER[0]}")
    expect(viewer_page.locator("#judge-actions")).to_be_hidden()
    figures_drawn(viewer_page)
    viewer_page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
    viewer_watch.assert_clean()
    viewer.close()

    owner_token = _token_of(make_session_factory(make_engine(live_settings.resolved_database_url)), OWNER[0])
    stranger, shared, shared_watch = open_share_link(browser, url, experiment_id, owner_token)
    first_shared = shared.locator("#meta .judge").first
    expect(first_shared).to_contain_text(f"{ADDED}")
    expect(first_shared).to_contain_text("makes the rates, chosen on")
    assert OWNER[0] not in shared.content()
    expect(shared.locator("#judge-actions")).to_be_hidden()
    expect(shared.locator("#labelling")).to_be_hidden()
    figures_drawn(shared)
    shared.screenshot(path=str(tmp_path / "share-link.png"), full_page=True)
    shared_watch.assert_clean()
    stranger.close()
    owner.close()
