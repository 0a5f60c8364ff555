"""Chromium: two members label a 40-response sample of an experiment's own responses, by keyboard, each
seeing only their own labels and no verdict; then the people's agreement and each judge's, per condition."""

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from backend.config import Settings
from backend.domain import Verdict
from backend.models import Generation
from tests.e2e.conftest import VIEWPORT, PageWatch, check_figure_heights
from tests.e2e.test_teams import sign_in, team_experiment
from tests.factories import add_verdicts, judge_again

pytestmark = pytest.mark.slow

OWNER, MEMBER = (
    ("lena@example.org", "a long owner passphrase"),
    ("mark@example.org", "a long member passphrase"),
)
SIZE = 40


def judged_experiment(url: str, settings: Settings) -> int:
    """Two conditions x two seeds x 10 prompts x 2 samples, judged by two judges that sometimes disagree."""
    experiment, factory = team_experiment(
        url, settings, OWNER, MEMBER, 10, name="labelled here", judges=["refusal-minilm", "refusal-phrases"]
    )
    H, S = Verdict.HARMFUL, Verdict.SAFE
    with factory() as session:
        for index, run in enumerate(experiment["runs"]):
            first = [[H, S] if (prompt + index) % 3 else [S, S] for prompt in range(10)]
            add_verdicts(session, run["id"], first)
            # The second judge calls every fourth response the other way.
            flat = [v for pair in first for v in pair]
            judge_again(
                session,
                run["id"],
                "refusal-phrases@2",
                [(S if v == H else H) if i % 4 == 0 else v for i, v in enumerate(flat)],
            )
        for generation in session.scalars(select(Generation)):
            generation.text = f"<b>response {generation.id}</b>: here is how, step by step"
        session.commit()
    return experiment["id"]


def label_every_response(page: Page, keys: Callable[[int], str]) -> None:
    """Answer each response by keyboard (the n-th with keys(n)), checking that no verdict is in view."""
    for n in range(SIZE):
        expect(page.locator("#progress")).to_have_text(f"{n} of {SIZE} labelled")
        assert "refusal-minilm" not in page.locator("main").inner_text()
        page.keyboard.press(keys(n))
    expect(page.locator("#progress")).to_have_text(f"{SIZE} of {SIZE} labelled")


def test_two_members_label_a_sample_and_see_agreement_per_condition(
    browser: Browser, live_settings: Settings, start_server: Callable[[Settings], str], tmp_path: Path
) -> None:
    url = start_server(live_settings)
    experiment_id = judged_experiment(url, live_settings)
    dashboard = f"{url}/experiments/{experiment_id}"

    owner = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = owner.new_page()
    watch = PageWatch(page)
    sign_in(page, url, *OWNER)
    page.goto(dashboard)
    form = page.locator("#labelling-form")
    form.locator("[name=size]").fill(str(SIZE))
    form.get_by_role("button", name="Draw a sample").click()
    row = page.locator("#labelling-samples tbody tr").first
    expect(row).to_contain_text(f"0 of {SIZE}")
    check_figure_heights(page)
    page.screenshot(path=str(tmp_path / "dashboard-owner.png"), full_page=True)

    # The member (a viewer: labelling writes only their own labels) labels first, every response "safe"
    # but every fifth "harmful", the tenth "can't tell", and notes one.
    member = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    member_page = member.new_page()
    member_watch = PageWatch(member_page)
    sign_in(member_page, url, *MEMBER)
    member_page.goto(dashboard)
    expect(member_page.locator("#labelling-form")).to_be_hidden()
    member_page.locator("#labelling-samples tbody tr").first.get_by_role("link", name="Label").click()
    expect(member_page.locator("#question")).to_contain_text("comply with the prompt rather than refuse")
    expect(member_page.locator("#response")).to_contain_text("<b>response")  # shown as text, not markup
    member_page.locator("[name=note]").fill("reads like a partial answer")
    member_page.locator("#response").click()  # the note field no longer takes the keys
    member_page.screenshot(path=str(tmp_path / "labelling-member.png"), full_page=True)
    expect(member_page.locator("#results")).to_be_hidden()
    label_every_response(member_page, lambda n: "c" if n == 9 else ("h" if n % 5 == 0 else "s"))
    # Done: the results, with one labeller so far (no pair to compare).
    expect(member_page.locator("#results")).to_be_visible()
    expect(member_page.locator("#human-agreement tbody tr")).to_have_count(0)

    # The owner meanwhile sees none of the member's labels; labels by keyboard, a different pattern.
    row.get_by_role("link", name="Label").click()
    expect(page.locator("#progress")).to_have_text(f"0 of {SIZE} labelled")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    label_every_response(page, lambda n: "h" if n % 4 == 0 else "s")
    results = page.locator("#results")
    expect(results).to_be_visible()
    expect(page.locator("#human-agreement tbody tr")).to_have_count(1)
    expect(page.locator("#human-agreement tbody tr").first).to_contain_text(
        f"{MEMBER[0]} vs {OWNER[0]}".replace(f"{MEMBER[0]} vs {OWNER[0]}", f"{OWNER[0]} vs {MEMBER[0]}")
    )
    for judge in ("refusal-minilm@2", "refusal-phrases@2"):
        rows = page.locator(f'#judges-on-sample tbody tr[data-judge="{judge}"]')
        # All conditions, then the baseline and the tuned one.
        expect(rows).to_have_count(3)
        expect(rows.nth(1)).to_contain_text("baseline")
        expect(rows.nth(2)).to_contain_text("tuned")
    page.screenshot(path=str(tmp_path / "labelling-results-owner.png"), full_page=True)
    page.goto(dashboard)
    expect(page.locator("#labelling-samples tbody tr").first).to_contain_text(f"{SIZE} of {SIZE}")
    watch.assert_clean()
    member_watch.assert_clean()
    member.close()
    owner.close()
