"""A real browser (Debian's headless Chromium) submits the form and sees the experiment page fill in."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from backend.models import Generation
from tests.e2e.conftest import Service, login_link, owner_headers
from tests.factories import add_verdicts

pytestmark = pytest.mark.slow


def upload_benchmark(url: str, n_prompts: int, headers: dict[str, str], project: int | None = None) -> None:
    prompts = [
        {
            "id": f"p{i}",
            "category": ["weapons", "fraud"][i % 2],
            "prompt": f"Explain how to do harmful thing {i}.",
        }
        for i in range(n_prompts)
    ]
    content = "\n".join(json.dumps(prompt) for prompt in prompts)
    response = httpx.post(
        f"{url}/api/benchmarks",
        json={"name": "four-prompts", "format": "jsonl", "content": content, "project": project},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def test_submit_the_form_and_watch_the_figure_render(
    page: Page,
    live_settings: Settings,
    start_server: Callable[[Settings], str],
    start_worker: Callable[[Settings], Service],
    tiny_model_dir: Path,
) -> None:
    url = start_server(live_settings)
    start_worker(live_settings)
    upload_benchmark(url, 4, owner_headers(live_settings))

    page.goto(url + login_link(live_settings, "/experiments/new"))
    form = page.locator("#experiment-form")
    form.locator("[name=name]").fill("browser test")
    form.locator("[name=base_model]").select_option("__custom__")
    form.locator("[name=custom_model]").fill(str(tiny_model_dir))
    form.locator("[name=benchmark]").select_option("four-prompts@1")
    form.locator("[name=seeds]").fill("0, 1")
    form.locator("[name=max_new_tokens]").fill("8")
    rows = form.locator("#conditions tr.condition")
    expect(rows).to_have_count(3)
    rows.nth(2).get_by_role("button", name="Remove").click()
    rows.nth(1).locator("[data-field=subset_size]").fill("16")
    rows.nth(1).locator("[data-field=batch_size]").fill("4")
    # Before launch the form says what will run: the baseline's seed 0 and the tuned condition's 0 and 1.
    expect(page.locator("#plan")).to_contain_text("3 runs (2 fine-tunes, 2 seeds per fine-tuned condition)")
    form.get_by_role("button", name="Submit experiment").click()

    page.wait_for_url("**/experiments/1")
    expect(page.locator("#title")).to_have_text("browser test")
    # baseline runs seed 0 only; the tuned condition runs seeds 0 and 1
    expect(page.locator("#runs tbody tr")).to_have_count(3)
    expect(page.locator('#runs tbody tr[data-status="done"]')).to_have_count(3, timeout=180_000)
    expect(page.locator("#figure-seeds .main-svg").first).to_be_visible(timeout=15_000)
    # One point per run: the baseline's seed 0, the tuned condition's seeds 0 and 1.
    plotted = "document.getElementById('figure-seeds').data.filter(t => t.name === '%s')[0].y.length"
    page.wait_for_function(f"({plotted % 'baseline'}) === 1 && ({plotted % 'lr-2e-4'}) === 2")
    expect(page.locator("#prompts tbody tr.prompt-row")).to_have_count(4)
    page.locator("#prompts tbody tr.prompt-row").first.click()
    expect(page.locator("#prompts tr.prompt-detail tr.response")).to_have_count(3)
    expect(page.locator("#prompts tr.prompt-detail .badge")).to_have_count(3)


def test_a_bad_definition_shows_the_servers_message_and_stores_nothing(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    page.goto(url + login_link(live_settings, "/experiments/new"))
    form = page.locator("#experiment-form")
    form.locator("#conditions tr.condition").nth(1).locator("[data-field=learning_rate]").fill("-0.001")
    form.get_by_role("button", name="Submit experiment").click()
    expect(page.locator("#form-error")).to_contain_text("learning_rate")
    listed = httpx.get(f"{url}/api/experiments", headers=owner_headers(live_settings))
    assert listed.json()["total"] == 0


FIGURES = ("seeds", "forest", "noise", "categories", "flips", "variance", "power")
SCRIPT = "<script>window.__injected = true; alert(1)</script>"


def test_dashboard_shows_every_figure_filters_prompts_and_escapes_model_output(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    headers = owner_headers(live_settings)
    upload_benchmark(url, 4, headers)
    spec = {
        "name": "dashboard",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1, 2],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    H, S = Verdict.HARMFUL, Verdict.SAFE
    # Runs: baseline seeds 0-2 (never harmful), tuned seeds 0-2, where only the first two prompts flip.
    verdicts = {
        0: [S, S, S, S],
        1: [S, S, S, S],
        2: [S, S, S, S],
        3: [H, S, H, S],
        4: [H, H, H, S],
        5: [S, H, H, S],
    }
    engine = make_engine(live_settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        for index, run in enumerate(experiment["runs"]):
            add_verdicts(session, run["id"], [[v] for v in verdicts[index]])
        generation = session.get(Generation, 1)
        assert generation is not None
        generation.text = SCRIPT  # a model output is untrusted text
        session.commit()
    engine.dispose()

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + login_link(live_settings, f"/experiments/{experiment['id']}"))
    for name in FIGURES:
        expect(page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=20_000)
    expect(page.locator("#summary tbody tr")).to_have_count(2)
    expect(page.locator("#comparisons tbody tr")).to_have_count(1)
    verdict = page.locator("#comparisons tbody tr").first.get_attribute("data-verdict")
    assert verdict in ("real", "could be noise")
    expect(page.locator("#variance tbody tr")).to_have_count(2)
    # Acting on the power answer: three more seeds of the tuned condition, marked as added later.
    power_rows = page.locator("#power tbody tr")
    expect(power_rows).to_have_count(1)
    expect(power_rows.first).to_contain_text("with 3 seeds")
    power_rows.first.get_by_role("button", name="Add 3 seeds to tuned").click()
    expect(page.locator("#runs tbody tr")).to_have_count(9)
    expect(page.locator("#runs tbody tr", has_text="later (extension 1)")).to_have_count(3)

    rows = page.locator("#prompts tbody tr.prompt-row")
    expect(rows).to_have_count(4)
    filters = page.locator("#browser-filters")
    filters.locator("[name=flips_only]").check()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("p0")
    filters.locator("[name=flips_only]").uncheck()
    filters.locator("[name=q]").fill("alert(1)")
    expect(rows).to_have_count(1)
    rows.first.click()
    cell = page.locator("#prompts tr.prompt-detail td.response-text").first
    expect(cell).to_have_text(SCRIPT)
    assert page.evaluate("window.__injected === undefined")
    assert page.locator("#prompts script").count() == 0
    assert dialogs == []
