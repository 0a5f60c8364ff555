"""Chromium: an editor imports results judged elsewhere (Every Eval Ever instance records) from the datasets
page, is told what a file it cannot read gets wrong, and opens the imported experiment's dashboard; a viewer
gets no form; a figures-only share link shows the imported experiment's figures."""

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from backend.config import Settings
from tests.api.test_import import eee_record, jsonl
from tests.e2e.conftest import (
    VIEWPORT,
    PageWatch,
    check_figure_heights,
    check_figure_heights_after_resize,
    open_share_link,
)
from tests.e2e.test_teams import _token_of, sign_in, team_experiment

pytestmark = pytest.mark.slow

OWNER, VIEWER = (
    ("iris@example.org", "a long owner passphrase"),
    ("ugo@example.org", "a long viewer passphrase"),
)
MODELS, SEEDS, PROMPTS = ("org/base-model", "org/tuned-model"), (0, 1, 2), 8


def records() -> str:
    """Two models' responses, three seeds each, scored 1 (harmful) or 0 (safe): the tuned one 1 more often."""
    rng = np.random.default_rng(0)
    lines = [
        eee_record(
            f"p{prompt}",
            f"request {prompt}",
            f"response {prompt} of {model}, seed {seed}",
            float(rng.random() < (0.2 if model == MODELS[0] else 0.7)),
            model_id=model,
            metadata={"seedscope_seed": str(seed)},
        )
        for model in MODELS
        for seed in SEEDS
        for prompt in range(PROMPTS)
    ]
    return jsonl(lines)


def choose_file(page: Page, name: str, content: str) -> None:
    page.locator("#import-form [name=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/jsonl", "buffer": content.encode()}]
    )


def figures_drawn(page: Page) -> None:
    expect(page.locator("#figure-seeds .main-svg").first).to_be_visible(timeout=20_000)
    check_figure_heights(page)


def test_an_editor_imports_judged_results_from_the_datasets_page(
    browser: Browser, live_settings: Settings, start_server: Callable[[Settings], str], tmp_path: Path
) -> None:
    url = start_server(live_settings)
    _, factory = team_experiment(url, live_settings, OWNER, VIEWER, 4, name="made here")

    owner = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = owner.new_page()
    watch = PageWatch(page)
    sign_in(page, url, *OWNER)
    page.goto(f"{url}/datasets")
    form = page.locator("#import-form")
    expect(form).to_be_visible()

    # A score outside the mapping: refused, naming the line and the value; nothing is stored.
    watch.expect_refusal(422, "/api/experiments/import")
    choose_file(page, "judged.jsonl", records())
    expect(form.locator("[name=format]")).to_have_value("eee-instances-jsonl")
    expect(form.locator("[name=benchmark]")).to_have_value("judged")
    expect(form.locator("[name=name]")).to_have_value("judged")
    form.locator("[name=harmful]").fill("1")
    form.get_by_role("button", name="Import").click()
    expect(form.locator(".error")).to_contain_text(
        re.compile(r"line \d+: evaluation.score '0.0' is in neither")
    )

    form.locator("[name=safe]").fill("0")
    form.get_by_role("button", name="Import").click()
    notice = form.locator(".notice")
    expect(notice).to_contain_text("runs of org-base-model, org-tuned-model", timeout=20_000)
    expect(page.locator("#benchmarks")).to_contain_text("judged@1")  # its prompts, a benchmark of the project
    page.screenshot(path=str(tmp_path / "owner-datasets.png"), full_page=True)
    notice.get_by_role("link", name="Open its dashboard").click()
    expect(page.locator("#meta")).to_contain_text("imported-")
    figures_drawn(page)
    # Its runs were made elsewhere: listed, with nothing to retry or re-evaluate, and its judge (another
    # tool's scorer) offered to no stress test.
    expect(page.locator("#runs tbody tr").first).to_contain_text("done")
    expect(page.locator("#runs button")).to_have_count(0)
    expect(page.locator("#stress-tests")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "owner-dashboard.png"), full_page=True)
    check_figure_heights_after_resize(page, {"width": 900, "height": 900})
    watch.assert_clean()
    experiment_id = int(page.url.rsplit("/", 1)[1])

    viewer = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    viewer_page = viewer.new_page()
    viewer_watch = PageWatch(viewer_page)
    sign_in(viewer_page, url, *VIEWER)
    viewer_page.goto(f"{url}/datasets")
    expect(viewer_page.locator("#upload-hint")).to_be_visible()
    expect(viewer_page.locator("#import-form")).to_be_hidden()
    viewer_page.screenshot(path=str(tmp_path / "viewer-datasets.png"), full_page=True)
    # The imported experiment's dashboard for the viewer: its figures, its runs, nothing to act on.
    viewer_page.goto(f"{url}/experiments/{experiment_id}")
    figures_drawn(viewer_page)
    expect(viewer_page.locator("#runs tbody tr").first).to_contain_text("done")
    expect(viewer_page.locator("#runs button")).to_have_count(0)
    viewer_page.screenshot(path=str(tmp_path / "viewer-dashboard.png"), full_page=True)
    viewer_watch.assert_clean()
    viewer.close()

    stranger, shared, shared_watch = open_share_link(
        browser, url, experiment_id, _token_of(factory, OWNER[0])
    )
    figures_drawn(shared)
    shared.screenshot(path=str(tmp_path / "share-link.png"), full_page=True)
    shared_watch.assert_clean()
    stranger.close()
    owner.close()
