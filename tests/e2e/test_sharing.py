"""Share links as their holders use them, in Chromium: both scopes, on a running experiment and once it
finished. No request fails and no error is shown, the numbers move on by themselves, the report and every
export download, and the figures keep their height through window resizes and full-page captures."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import RunStatus, Verdict
from backend.models import Run
from tests.e2e.conftest import (
    VIEWPORT,
    PageWatch,
    check_figure_heights,
    check_figure_heights_after_resize,
    owner_headers,
)
from tests.e2e.test_browser import FIGURES, upload_benchmark
from tests.factories import add_verdicts, judge_again

pytestmark = pytest.mark.slow

H, S = Verdict.HARMFUL, Verdict.SAFE
# Baseline seeds 0-2, then the tuned condition's seeds 0-2; the last is still training when the links open.
VERDICTS = [[S, S, S, H], [S, S, S, S], [S, H, S, S], [H, S, H, S], [H, H, H, S], [H, H, S, H]]
DOWNLOADS = {"export-csv": ".csv", "export-parquet": ".parquet", "export-eee": "-eee.zip", "report-md": ".md"}


def _running_experiment(url: str, settings: Settings) -> tuple[dict, Callable[[], None]]:
    """Five runs judged and the sixth training; and the function that lets the sixth finish."""
    headers = owner_headers(settings)
    upload_benchmark(url, 4, headers)
    spec = {
        "name": "shared dashboard",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1, 2],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
        "judges": ["refusal-minilm", "refusal-phrases"],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    runs = experiment["runs"]
    with sessions() as session:
        for run, verdicts in zip(runs[:5], VERDICTS, strict=False):
            add_verdicts(session, run["id"], [[v] for v in verdicts])
            judge_again(session, run["id"], "refusal-phrases@2", verdicts)
        session.execute(
            update(Run)
            .where(Run.id == runs[5]["id"])
            .values(status=RunStatus.TRAINING, progress=0.4, progress_message="step 12/30, loss 1.234")
        )
        session.commit()

    def finish() -> None:
        with sessions() as session:
            add_verdicts(session, runs[5]["id"], [[v] for v in VERDICTS[5]])

    return experiment, finish


def _share(url: str, settings: Settings, experiment_id: int, scope: str) -> str:
    link = httpx.post(
        f"{url}/api/experiments/{experiment_id}/share-links",
        json={"scope": scope},
        headers=owner_headers(settings),
    )
    assert link.status_code == 201, link.text
    return url + link.json()["path"]


def _dashboard_is_whole(page: Page, watch: PageWatch) -> None:
    for name in FIGURES:
        expect(page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=20_000)
    expect(page.locator("#report-text")).to_contain_text("# shared dashboard")
    check_figure_heights(page)
    watch.assert_clean()


def _downloads_work(page: Page, experiment_id: int, tmp_path: Path) -> None:
    for button, suffix in DOWNLOADS.items():
        with page.expect_download() as download:
            page.locator(f"#{button}").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == f"seedscope-experiment-{experiment_id}{suffix}"
        content = saved.read_bytes()
        assert {
            ".csv": content.startswith(b"condition,run_id,seed"),
            ".parquet": content[:4] == b"PAR1",
            "-eee.zip": content[:2] == b"PK",
            ".md": content.startswith(b"# shared dashboard"),
        }[suffix], (saved.name, content[:60])
    expect(page.locator("#download-status")).to_have_text("")


def _resizes_keep_figures_tall(page: Page, tmp_path: Path, scope: str) -> None:
    for size in ({"width": 900, "height": 700}, {"width": 1600, "height": 1100}, VIEWPORT):
        check_figure_heights_after_resize(page, size)
    page.screenshot(path=str(tmp_path / f"share-{scope}.png"), full_page=True)  # resizes the window too
    page.wait_for_timeout(600)
    check_figure_heights(page)


def test_both_scopes_of_share_link_work_on_a_running_then_finished_experiment(
    browser: Browser, live_settings: Settings, start_server: Callable[[Settings], str], tmp_path: Path
) -> None:
    url = start_server(live_settings)
    experiment, finish = _running_experiment(url, live_settings)
    pages: dict[str, tuple[Page, PageWatch]] = {}
    requested: list[str] = []
    for scope in ("figures", "responses"):
        page = browser.new_context(viewport=VIEWPORT).new_page()  # type: ignore[arg-type]
        page.on("request", lambda request: requested.append(request.url))
        watch = PageWatch(page)
        pages[scope] = (page, watch)
        assert page.goto(_share(url, live_settings, experiment["id"], scope)).status == 200
        _dashboard_is_whole(page, watch)
        tuned = page.locator("#summary tbody tr").last
        expect(tuned).to_contain_text("2 / 3")
        expect(page.locator("#partial")).to_contain_text("1 of 6 runs still running")
        expect(page.locator('#runs tbody tr[data-status="training"]')).to_contain_text("step 12/30")

    # The last run finishes: both open pages show it without a reload (they keep polling), then stop
    # saying the data is partial.
    finish()
    for scope, (page, watch) in pages.items():
        expect(page.locator("#summary tbody tr").last).to_contain_text("3 / 3", timeout=20_000)
        expect(page.locator("#partial")).to_be_hidden()
        _dashboard_is_whole(page, watch)
        _downloads_work(page, experiment["id"], tmp_path)
        _resizes_keep_figures_tall(page, tmp_path, scope)
        watch.assert_clean()

    # "Figures and tables only": no prompt browser, no run pages, no text of a prompt or response.
    page, watch = pages["figures"]
    expect(page.locator("#shared-notice")).to_contain_text("figures and tables only")
    expect(page.locator("#browser")).to_be_hidden()
    expect(page.locator("#runs tbody a")).to_have_count(0)
    assert "harmful thing" not in page.content() and "answer harmful" not in page.content()
    watch.expect_refusal(403, "/runs/")
    run_page = page.url + f"/runs/{experiment['runs'][0]['id']}"
    assert page.goto(run_page).status == 403
    expect(page.locator("#error-message")).to_contain_text("figures and tables only")

    # "With responses": a refresh that fails says what failed, and the page keeps polling until it works.
    page, watch = pages["responses"]
    watch.expect_refusal(0, "/report.md")
    page.route("**/report.md*", lambda route: route.abort())
    page.locator("#adjust").select_option("bh")  # a change of view redraws now
    expect(page.locator("#refresh-status")).to_contain_text("the report", timeout=10_000)
    page.unroute("**/report.md*")
    expect(page.locator("#refresh-status")).to_be_hidden(timeout=20_000)
    expect(page.locator("#report-text")).to_contain_text("Benjamini-Hochberg")

    # The prompt browser and the run pages, with every response.
    expect(page.locator("#browser")).to_be_visible()
    rows = page.locator("#prompts tbody tr.prompt-row")
    expect(rows).to_have_count(4)
    rows.first.click()
    expect(page.locator("#prompts tr.prompt-detail tr.response")).to_have_count(6)
    expect(page.locator("#browser")).not_to_contain_text("null")
    page.locator("#runs tbody a").first.click()
    expect(page.locator("#generations tbody tr.response")).to_have_count(4)
    expect(page.locator("#meta")).to_contain_text("untuned baseline")
    watch.assert_clean()
    for page, _ in pages.values():
        page.context.close()
    # The token travels in a header: no API call or download puts it in a URL (server logs, Referer).
    tokens = [address.split("/share/")[1].split("/")[0] for address in requested if "/share/" in address]
    assert tokens and not [a for a in requested if "/api/" in a and any(t in a for t in tokens)]
