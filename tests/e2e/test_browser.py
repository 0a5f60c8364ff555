"""A real browser (Debian's headless Chromium) submits the form and sees the experiment page fill in."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from backend.catalog.derived import derived_name
from backend.catalog.records import ExampleRecord
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from backend.models import Generation
from backend.provenance import DatasetVersion
from tests.e2e.conftest import Service, login_link, owner_headers, wait_for, watch_of
from tests.factories import NOTHING_STORED, add_verdicts, experiment_spec, judge_again, self_written
from worker.store import RunStore

pytestmark = pytest.mark.slow


def upload_benchmark(
    url: str,
    n_prompts: int,
    headers: dict[str, str],
    project: int | None = None,
    ids: dict[int, str] | None = None,
) -> None:
    """p0, p1, ... unless `ids` names some prompts otherwise; into `project` (default the caller's first)."""
    prompts = [
        {
            "id": (ids or {}).get(i, f"p{i}"),
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
    rows.nth(1).locator('[data-field="training.subset_size"]').fill("16")
    rows.nth(1).locator('[data-field="training.batch_size"]').fill("4")
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
    points = """() => Object.fromEntries(document.getElementById('figure-seeds').data
        .filter((t) => t.type === 'scatter' && t.name !== 'mean, t 95% interval')
        .map((t) => [t.name, t.y.length]))"""
    # Polled from here: page.wait_for_function evaluates a string, which the page's CSP forbids.
    wait_for(
        lambda: page.evaluate(points) == {"baseline": 1, "lr-2e-4": 2},
        30,
        "a point per run in the seeds figure",
        lambda: str(page.evaluate(points)),
    )
    expect(page.locator("#prompts tbody tr.prompt-row")).to_have_count(4)
    page.locator("#prompts tbody tr.prompt-row").first.click()
    expect(page.locator("#prompts tr.prompt-detail tr.response")).to_have_count(3)
    # Each response: its verdict, and whether it reads as language at all.
    expect(page.locator('#prompts tr.prompt-detail .badge[class*="verdict-"]')).to_have_count(3)
    expect(page.locator('#prompts tr.prompt-detail .badge[class*="coherence-"]')).to_have_count(3)


def test_a_bad_definition_shows_the_servers_message_and_stores_nothing(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    # Refused by the server, as the test wants: the draft's plan, then the submission.
    watch_of(page).expect_refusal(422, "/api/experiments")
    page.goto(url + login_link(live_settings, "/experiments/new"))
    form = page.locator("#experiment-form")
    form.locator("#conditions tr.condition").nth(1).locator('[data-field="training.learning_rate"]').fill(
        "-0.001"
    )
    form.get_by_role("button", name="Submit experiment").click()
    # In words: which condition, which field.
    refusal = 'condition "lr-2e-4", learning rate: Input should be greater than 0'
    expect(page.locator("#form-error")).to_contain_text(refusal)
    experiments = httpx.get(f"{url}/api/experiments", headers=owner_headers(live_settings)).json()
    assert experiments["total"] == 0


FIGURES = ("seeds", "forest", "noise", "categories", "flips", "variance", "power")
SCRIPT = "<script>window.__injected = true; alert(1)</script>"
LINK_ID = '<a href="https://attacker.example/">p-link</a>'

# What Plotly drew for one figure: its size, its plot area, its axes' ticks, and its marks beside what its
# data asks for (a marker per non-null scatter point, a bar per non-null bar value, an image per heatmap).
MEASURE = """(id) => {
  const gd = document.getElementById(id);
  const box = (selector) => {
    const node = gd.querySelector(selector);
    return node ? node.getBoundingClientRect() : { width: 0, height: 0 };
  };
  const count = (selector) => gd.querySelectorAll(selector).length;
  const values = (types, mode, drawn = (v) => v !== null && v !== undefined) => gd.data
    .filter((t) => types.includes(t.type || "scatter") && (!mode || (t.mode || "").includes(mode)))
    .reduce((n, t) => n + (t.y || []).filter(drawn).length, 0);
  return {
    height: box(".main-svg").height,
    plotHeight: box(".nsewdrag").height,
    plotWidth: box(".nsewdrag").width,
    xticks: count(".xaxislayer-above .xtick text"),
    yticks: count(".yaxislayer-above .ytick text"),
    markers: count(".scatterlayer .points path.point"),
    expectedMarkers: values(["scatter"], "markers"),
    // Plotly draws a missing value as a bar of height 0, like a 0: count the bars that stand up.
    bars: [...gd.querySelectorAll(".barlayer .point path")].filter((bar) => bar.getBBox().height > 0).length,
    expectedBars: values(["bar"], null, (v) => v !== null && v !== undefined && v !== 0),
    heatmaps: count(".hm image"),
    links: count("a"),
  };
}"""


def check_figure_is_readable(page: Page, name: str) -> dict:
    drawn = page.evaluate(MEASURE, f"figure-{name}")
    assert drawn["height"] >= 300, f"{name}: {drawn}"
    assert drawn["plotHeight"] >= 150 and drawn["plotWidth"] >= 500, f"{name}: plot area collapsed: {drawn}"
    assert drawn["xticks"] >= 1 and drawn["yticks"] >= 1, f"{name}: axes without ticks: {drawn}"
    assert drawn["links"] == 0, f"{name}: a link was rendered from stored text: {drawn}"
    return drawn


def test_dashboard_shows_every_figure_filters_prompts_and_escapes_model_output(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    headers = owner_headers(live_settings)
    upload_benchmark(url, 4, headers, ids={2: LINK_ID})  # a benchmark's ids are stored text too
    spec = {
        "name": "dashboard",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1, 2],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
        "judges": ["refusal-minilm", "refusal-phrases"],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    H, S = Verdict.HARMFUL, Verdict.SAFE
    tuned_seed_0 = experiment["runs"][3]["id"]
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
            # The second judge calls the last prompt harmful wherever the first called it safe.
            judge_again(session, run["id"], "refusal-phrases@2", [*verdicts[index][:3], H])
        generation = session.get(Generation, 1)
        assert generation is not None
        generation.text = SCRIPT  # a model output is untrusted text
        session.commit()
    # Two re-evaluations of one checkpoint: the noise figure gets its evaluation-noise bar.
    reevaluate = f"{url}/api/runs/{tuned_seed_0}/reevaluate"
    repeats = httpx.post(reevaluate, json={"count": 2}, headers=headers).json()["runs"]
    with make_session_factory(engine)() as session:
        add_verdicts(session, repeats[0]["id"], [[v] for v in [H, H, S, S]])
        add_verdicts(session, repeats[1]["id"], [[v] for v in [S, S, H, S]])
    engine.dispose()

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + login_link(live_settings, f"/experiments/{experiment['id']}"))
    for name in FIGURES:
        expect(page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=20_000)
    drawn = {name: check_figure_is_readable(page, name) for name in FIGURES}
    # Every point and bar the data holds is drawn: one per seed and mean, the comparison, the curve.
    for name in ("seeds", "forest", "power"):
        assert drawn[name]["markers"] == drawn[name]["expectedMarkers"] > 0, (name, drawn[name])
    assert drawn["seeds"]["expectedMarkers"] == 3 + 3 + 2  # two conditions' seeds, and their means
    for name in ("noise", "variance"):
        assert drawn[name]["bars"] == drawn[name]["expectedBars"] > 0, (name, drawn[name])
    for name in ("categories", "flips"):
        assert drawn[name]["heatmaps"] == 1, (name, drawn[name])
    assert page.locator("#figure-seeds .xtick text").all_text_contents() == ["baseline", "tuned"]
    # The id with a link in it is a tick label, shown as the text it is.
    assert LINK_ID in page.locator("#figure-flips .ytick text").all_text_contents()
    expect(page.locator("#summary tbody tr")).to_have_count(2)
    expect(page.locator("#comparisons tbody tr")).to_have_count(1)
    verdict = page.locator("#comparisons tbody tr").first.get_attribute("data-verdict")
    assert verdict in ("real", "could be noise")
    expect(page.locator("#variance tbody tr")).to_have_count(2)
    # Under each judge: a column per judge; the second judge's rates are 25 points higher everywhere.
    expect(page.locator("#by-judge")).to_be_visible()
    # Neither judge is validated here: each column says so, and each of their verdicts carries the mark.
    assert page.locator("#by-judge-rates thead th").all_text_contents() == [
        "Condition",
        "refusal-minilm@2 (complies) ⚠ weak or unvalidated",
        "refusal-phrases@2 (complies) ⚠ weak or unvalidated",
    ]
    expect(page.locator("#by-judge-comparisons tbody .caution")).to_have_count(2)
    expect(page.locator("#by-judge-warnings")).to_contain_text("refusal-phrases@2 is not validated")
    expect(page.locator("#by-judge-rates tbody tr").first).to_contain_text("0.0%")
    expect(page.locator("#by-judge-rates tbody tr").first).to_contain_text("25.0%")
    expect(page.locator("#by-judge-comparisons tbody tr")).to_have_count(1)
    expect(page.locator("#by-judge-comparisons tbody tr .badge")).to_have_count(2)
    # The judges' share of each condition's variance, both conditions having three seeds.
    expect(page.locator("#judge-variance tbody tr")).to_have_count(2)
    expect(page.locator("#judge-variance tbody tr").first).to_contain_text("2 judges × 3 seeds × 4 prompts")
    expect(page.locator("#agreement tbody tr")).to_contain_text("refusal-minilm@2 vs refusal-phrases@2")

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

    # The report, copied as Markdown; the exports as downloads.
    page.get_by_role("button", name="Copy report").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("# dashboard\n") and "## Paired comparisons" in copied
    expect(page.locator("#report-text")).to_contain_text("## Compliance rate per condition")
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    assert download.value.suggested_filename == f"seedscope-experiment-{experiment['id']}.csv"
    header = Path(download.value.path()).read_text().splitlines()[0]
    assert header.startswith("condition,run_id,seed,lora_init_seed")

    # Acting on the power answer: three more seeds of the tuned condition, marked as added later.
    power_rows = page.locator("#power tbody tr")
    expect(power_rows).to_have_count(1)
    expect(power_rows.first).to_contain_text("with 3 seeds")
    power_rows.first.get_by_role("button", name="Add 3 seeds to tuned").click()
    expect(page.locator("#runs tbody tr")).to_have_count(11)
    expect(page.locator("#runs tbody tr", has_text="later (extension 1)")).to_have_count(3)
    # No worker here: cancel them, and the page stops refreshing itself.
    page.get_by_role("button", name="Cancel unfinished runs").click()
    expect(page.locator('#runs tbody tr[data-status="cancelled"]')).to_have_count(3)
    expect(page.locator("#partial")).to_be_hidden()
    page.goto("about:blank")  # leave before the server stops, not in the middle of the page's last refresh


def test_a_grading_judges_mean_score_can_be_the_dashboards_metric(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    headers = owner_headers(live_settings)
    upload_benchmark(url, 4, headers)
    classifier = {
        "name": "harm-classifier",
        "kind": "sequence-classifier",
        "model": "org/harm-classifier",
        "labels": {"HARMFUL": "harmful", "SAFE": "safe"},
    }
    assert httpx.post(f"{url}/api/judges", json=classifier, headers=headers).status_code == 201
    spec = {
        "name": "graded",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
        "judges": ["refusal-minilm", "harm-classifier"],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=headers).json()
    H, S = Verdict.HARMFUL, Verdict.SAFE
    # The classifier's P(harmful): baseline runs 0.1 everywhere, tuned runs 0.1, 0.1, 0.1 and 0.9.
    engine = make_engine(live_settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        for run in experiment["runs"]:
            tuned = run["condition_name"] == "tuned"
            verdicts = [S, S, S, H if tuned else S]
            add_verdicts(session, run["id"], [[v] for v in verdicts])
            scores = [0.9 if v == H else 0.1 for v in verdicts]
            judge_again(session, run["id"], "harm-classifier@1", verdicts, scores)
    engine.dispose()

    page.goto(url + login_link(live_settings, f"/experiments/{experiment['id']}"))
    expect(page.locator("#rate-heading")).to_have_text("Compliance rate across seeds")
    expect(page.locator("#judge-warning")).to_contain_text("refusal-minilm@2 is not validated")
    expect(page.locator("#summary tbody tr").last).to_contain_text("25.0% [")
    page.locator("#metric").select_option("score")
    expect(page.locator("#rate-heading")).to_have_text("Mean score of harm-classifier@1 across seeds")
    expect(page.locator("#pooled-heading")).to_contain_text("All scores pooled")
    expect(page.locator("#judge-warning")).to_contain_text("harm-classifier@1 is not validated")
    # (0.1 + 0.1 + 0.1 + 0.9) / 4 = 0.3, shown x 100 as on the figures' axes.
    expect(page.locator("#summary tbody tr").last.locator("td").nth(2)).to_contain_text("30.0 [")
    expect(page.locator("#figure-seeds .gtitle")).to_contain_text("Mean score of harm-classifier@1 per seed")
    expect(page.locator("#figure-forest .xtitle")).to_contain_text("score points")
    page.goto("about:blank")


def test_upload_datasets_from_the_browser_with_the_servers_errors_shown(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    watch_of(page).expect_refusal(422, "/api/benchmarks")  # the two malformed files below
    page.goto(url + login_link(live_settings, "/datasets"))
    builtin = NOTHING_STORED[1]
    expect(page.locator("#benchmarks tbody tr")).to_have_count(builtin)
    form = page.locator("#benchmark-form")
    lines = [{"id": "m1", "prompt": "first request", "category": "fraud"}, {"id": "m2", "prompt": "second"}]
    good = "\n".join(json.dumps(line) for line in lines).encode()
    form.locator("[name=file]").set_input_files(
        {"name": "my_bench.jsonl", "mimeType": "text/plain", "buffer": good}
    )
    expect(form.locator("[name=name]")).to_have_value("my_bench")  # from the file name
    form.get_by_role("button", name="Upload benchmark").click()
    expect(form.locator(".notice")).to_have_text("Stored my_bench@1: 2 prompts in 2 categories.")
    expect(page.locator("#benchmarks tbody tr")).to_have_count(builtin + 1)

    # A malformed file: the server's message, with the line, on the page; nothing stored.
    form.locator("[name=name]").fill("broken")
    bad = b'{"prompt": "fine"}\n{"prompt": oops}\n'
    form.locator("[name=file]").set_input_files(
        {"name": "broken.jsonl", "mimeType": "text/plain", "buffer": bad}
    )
    form.get_by_role("button", name="Upload benchmark").click()
    expect(form.locator(".error")).to_contain_text("line 2")
    expect(form.locator(".error")).to_contain_text("invalid JSON")
    expect(page.locator("#benchmarks tbody tr")).to_have_count(builtin + 1)

    # A chosen format overrides the guess from the file name; a CSV without a prompt column is refused.
    form.locator("[name=name]").fill("csv-bench")
    form.locator("[name=format]").select_option("csv")
    csv_file = b"question,category\nhow?,fraud\n"
    form.locator("[name=file]").set_input_files(
        {"name": "data.txt", "mimeType": "text/csv", "buffer": csv_file}
    )
    form.get_by_role("button", name="Upload benchmark").click()
    expect(form.locator(".error")).to_contain_text("no prompt column")

    training = page.locator("#training-set-form")
    example = json.dumps({"prompt": "2+2?", "response": "4"}).encode()
    training.locator("[name=file]").set_input_files(
        {"name": "maths.jsonl", "mimeType": "text/plain", "buffer": example}
    )
    training.get_by_role("button", name="Upload training set").click()
    expect(training.locator(".notice")).to_have_text("Stored maths@1: 1 examples.")
    expect(page.locator("#training-sets tbody tr")).to_have_count(3)
    # The format list comes from the server, the default first; Alpaca's JSON array is read when chosen.
    expect(training.locator("[name=format] option")).to_have_text(["jsonl", "alpaca", "dolly", "messages"])
    training.locator("[name=name]").fill("alpaca-maths")
    training.locator("[name=format]").select_option("alpaca")
    alpaca = json.dumps([{"instruction": "Add.", "input": "2+2", "output": "4"}], indent=2).encode()
    training.locator("[name=file]").set_input_files(
        {"name": "alpaca_data.json", "mimeType": "application/json", "buffer": alpaca}
    )
    training.get_by_role("button", name="Upload training set").click()
    expect(training.locator(".notice")).to_have_text("Stored alpaca-maths@1: 1 examples.")
    catalog = httpx.get(f"{url}/api/catalog", headers=owner_headers(live_settings)).json()
    assert [b["name"] for b in catalog["benchmarks"] if b["project_id"] is not None] == ["my_bench"]


def test_a_derived_training_set_shows_how_its_responses_were_written_as_text(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    """A model's answers become a training set the datasets page lists, with its origin in a line; what the
    worker recorded (here a model path with markup in it) shows as text, never as markup."""
    url = start_server(live_settings)
    submitted = httpx.post(
        f"{url}/api/experiments", json=experiment_spec(), headers=owner_headers(live_settings)
    )
    assert submitted.status_code == 201, submitted.text
    run_id = submitted.json()["runs"][1]["id"]
    store = RunStore(make_session_factory(make_engine(live_settings.resolved_database_url)))
    lease, _ = store.claim(run_id, "worker:1:x", lease_s=60, max_attempts=3)
    context = store.context(run_id)
    assert lease is not None and context is not None
    source = DatasetVersion(
        id=context.training_set_id,
        name=context.training_set_name,
        version=context.training_set_version,
        content_hash=context.training_set_hash,
    )
    written = self_written(source, run_id, model="/models/<img src=x onerror=alert(1)>")
    answers = [ExampleRecord("What is 2 + 2?", "<b>4</b>")]
    derived = store.add_derived_training_set(
        lease, context.project_id, derived_name(written), answers, written
    )

    page.goto(url + login_link(live_settings, "/datasets"))
    row = page.locator("#training-sets tbody tr").filter(has_text=derived.name)
    expect(row).to_contain_text(
        "/models/<img src=x onerror=alert(1)>'s own answers to the prompts of seedscope-benign-demo@1"
    )
    expect(row).to_contain_text("greedy, up to 128 new tokens; commit abc; written by run")
    expect(row.get_by_role("link", name=f"run {run_id}")).to_have_attribute("href", f"/runs/{run_id}")
    expect(row.locator("td").nth(2)).to_have_text("self-generated")
    expect(page.locator("#training-sets img")).to_have_count(0)


def test_the_api_docs_render_from_local_files_under_the_csp(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url + login_link(live_settings, "/docs"))
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() >= 20
    assert all(address.startswith(url) for address in requested), requested
