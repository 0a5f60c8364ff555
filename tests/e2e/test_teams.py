"""Chromium as a team uses seedscope: sign in, make a project, invite a viewer who reads everything but
cannot cancel, share the dashboard "figures only" with someone without an account, revoke the link."""

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Role, Verdict
from backend.models import Generation
from backend.repositories import projects as project_repository
from backend.services import accounts
from tests.e2e.conftest import VIEWPORT, PageWatch, check_figure_heights, login_link
from tests.e2e.test_browser import FIGURES, upload_benchmark
from tests.factories import add_verdicts

pytestmark = pytest.mark.slow

OWNER, VIEWER = (
    ("olga@example.org", "a long owner passphrase"),
    ("vera@example.org", "a long viewer passphrase"),
)


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_url("**/login?next=%2F")
    page.locator("[name=email]").fill(email)
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")
    expect(page.locator("#account-link")).to_have_text(email)


def test_sign_in_project_viewer_and_a_figures_only_share_link(
    browser: Browser, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    engine = make_engine(live_settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        for email, password in (OWNER, VIEWER):
            accounts.add_user(session, email, password)
    owner = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = owner.new_page()
    watch = PageWatch(page)

    # Sign in, then make a project and add a viewer by email.
    sign_in(page, url, *OWNER)
    page.get_by_role("link", name="Projects").click()
    page.locator("#project-form [name=name]").fill("red team")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#project-title")).to_have_text("Members of red team")
    page.locator("#member-form [name=email]").fill(VIEWER[0])
    page.locator("#member-form [name=role]").select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    # An invitation: it becomes a membership when that account next signs in.
    expect(page.locator(f'#invitations tr[data-email="{VIEWER[0]}"]')).to_contain_text("viewer")
    expect(page.locator("#invited")).to_contain_text(f"Invited {VIEWER[0]} as viewer")

    # An experiment in that project (submitted by the owner's token), judged but for one run still queued.
    project_id = next(p["id"] for p in page.evaluate("fetch('/api/projects').then(r => r.json())"))
    token = _token_of(factory, OWNER[0])
    upload_benchmark(url, 4, token, project=project_id)
    spec = {
        "project": project_id,
        "name": "shared dashboard",
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1, 2],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
    }
    experiment = httpx.post(f"{url}/api/experiments", json=spec, headers=token).json()
    H, S = Verdict.HARMFUL, Verdict.SAFE
    with factory() as session:
        # The baseline's three seeds, then two of the tuned condition's: its seed 2 stays queued.
        judged = ([S, S, S, S],) * 3 + ([H, S, H, S], [H, H, H, S])
        for run, verdicts in zip(experiment["runs"][:5], judged, strict=True):
            add_verdicts(session, run["id"], [[v] for v in verdicts])
        responses = []
        for generation in session.scalars(select(Generation)):
            generation.text = f"zq-secret-answer-{generation.id}"
            responses.append(generation.text)
        session.commit()
    engine.dispose()
    dashboard = f"{url}/experiments/{experiment['id']}"
    page.goto(dashboard)
    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator("#delete-experiment")).to_be_visible()

    # The viewer sees the dashboard, its report and its prompts, without Cancel or the share links, and
    # is offered no form to submit; the server refuses a cancel anyway.
    viewer = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    viewer_page = viewer.new_page()
    viewer_watch = PageWatch(viewer_page)
    sign_in(viewer_page, url, *VIEWER)
    expect(viewer_page.get_by_role("link", name="New experiment")).to_have_count(0)
    viewer_page.goto(dashboard)
    expect(viewer_page.locator("#title")).to_have_text("shared dashboard")
    expect(viewer_page.locator('#runs tbody tr[data-status="queued"]')).to_have_count(1)
    expect(viewer_page.locator("#report-text")).to_contain_text("# shared dashboard")
    expect(viewer_page.locator("#prompts tbody tr.prompt-row")).to_have_count(4)
    expect(viewer_page.locator("#cancel")).to_be_hidden()
    expect(viewer_page.locator("#delete-experiment")).to_be_hidden()
    expect(viewer_page.locator("#sharing")).to_be_hidden()
    check_figure_heights(viewer_page)
    viewer_watch.assert_clean()
    viewer_watch.expect_refusal(403, "/cancel")
    refused = viewer_page.evaluate(
        f"fetch('/api/experiments/{experiment['id']}/cancel', {{method: 'POST'}}).then(r => r.status)"
    )
    assert refused == 403
    viewer_page.goto(f"{url}/datasets")
    expect(viewer_page.locator("#upload-hint")).to_be_visible()
    expect(viewer_page.locator("#benchmark-form")).to_be_hidden()
    viewer.close()
    assert viewer_watch.problems() == []

    # The owner makes a "figures and tables only" link ...
    page.locator("#share-form [name=scope]").select_option("figures")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("#new-link-value")
    expect(link).to_contain_text("/share/ssh_")
    shared_url = link.inner_text()

    # ... which a browser without an account opens: every figure, no response or prompt text.
    stranger = browser.new_context()
    stranger_page = stranger.new_page()
    stranger_watch = PageWatch(stranger_page)
    assert stranger_page.goto(shared_url).status == 200
    expect(stranger_page.locator("#shared-notice")).to_contain_text("figures and tables only")
    for name in FIGURES:
        expect(stranger_page.locator(f"#figure-{name} .main-svg").first).to_be_visible(timeout=20_000)
    expect(stranger_page.locator("#summary tbody tr")).to_have_count(2)
    expect(stranger_page.locator("#browser")).to_be_hidden()
    expect(stranger_page.locator("#runs tbody a")).to_have_count(0)
    content = stranger_page.content()
    assert not [text for text in responses if text in content]
    assert "harmful thing" not in content  # the prompts' text
    flips_hover = stranger_page.evaluate("JSON.stringify(document.getElementById('figure-flips').data)")
    assert "harmful thing" not in flips_hover and "zq-secret" not in flips_hover

    # Revoked, the link is gone.
    page.locator("#share-links tbody tr").first.get_by_role("button", name="Revoke").click()
    expect(page.locator("#share-links tbody tr").first).to_contain_text("revoked")
    stranger_watch.assert_clean()
    stranger_watch.expect_refusal(404, "/share/")
    assert stranger_page.goto(shared_url).status == 404
    expect(stranger_page.locator("#error-message")).to_contain_text(
        "does not exist, has expired or was revoked"
    )
    stranger.close()
    watch.assert_clean()
    owner.close()
    assert stranger_watch.problems() == []


def test_a_form_sent_while_its_page_still_loads_is_sent_once_the_page_is_ready(
    browser: Browser, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    """A quick click while the page's module loads neither reloads the page with the form in the address
    nor is lost: the project is created once the module has attached its handlers."""
    url = start_server(live_settings)
    with make_session_factory(make_engine(live_settings.resolved_database_url))() as session:
        accounts.add_user(session, *OWNER)
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    watch = PageWatch(page)
    sign_in(page, url, *OWNER)
    held: list[Route] = []
    page.route("**/static/js/pages/projects.js", lambda route: held.append(route))
    page.goto(f"{url}/projects", wait_until="domcontentloaded")
    page.locator("#project-form [name=name]").fill("red team")
    page.get_by_role("button", name="Create project").click()
    deadline = time.monotonic() + 10
    while len(held) < 1 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(held) == 1, "the projects page's module was not asked for exactly once"
    held[0].continue_()

    expect(page.locator("#project-title")).to_have_text("Members of red team")
    expect(page.locator("#projects tbody tr")).to_have_count(1)
    assert page.url == f"{url}/projects"
    watch.assert_clean()
    context.close()


def team_experiment(
    url: str, settings: Settings, owner: tuple[str, str], viewer: tuple[str, str], n_prompts: int, **spec: Any
) -> tuple[dict, sessionmaker[Session]]:
    """A project of `owner` with `viewer` as a viewer, and an experiment there (a baseline and a tuned
    condition, seeds 0 and 1, on n_prompts uploaded prompts; `spec` adds to or overrides its definition),
    submitted with the owner's token: the experiment as the API returned it, and the database's sessions."""
    factory = make_session_factory(make_engine(settings.resolved_database_url))
    with factory() as session:
        owner_id, viewer_id = (accounts.add_user(session, *account).id for account in (owner, viewer))
        project = project_repository.create_project(session, "a team", owner_id)
        project_repository.add_member(session, project.id, viewer_id, Role.VIEWER)
        session.commit()
    token = _token_of(factory, owner[0])
    upload_benchmark(url, n_prompts, token, project=project.id)
    definition = {
        "project": project.id,
        "benchmark": "four-prompts",
        "training_set": "seedscope-benign-demo",
        "seeds": [0, 1],
        "conditions": [{"name": "baseline", "finetune": False}, {"name": "tuned"}],
        **spec,
    }
    response = httpx.post(f"{url}/api/experiments", json=definition, headers=token)
    assert response.status_code == 201, response.text
    return response.json(), factory


def _token_of(factory: sessionmaker[Session], email: str) -> dict[str, str]:
    with factory() as session:
        user = accounts.find_user(session, email, Settings())
        token = accounts.create_api_token(session, user.id, "e2e", can_write=True).token
    return {"authorization": f"Bearer {token}"}


def test_the_account_page_sets_a_password_and_makes_and_revokes_a_token(
    page: Page, live_settings: Settings, start_server: Callable[[Settings], str]
) -> None:
    url = start_server(live_settings)
    page.goto(url + login_link(live_settings, "/account"))
    expect(page.locator("#account-email")).to_have_text(f"Signed in as {live_settings.local_owner_email}")
    # The local owner has no password yet, so none is asked for.
    expect(page.locator("#current-password-label")).to_be_hidden()
    page.locator("[name=new_password]").fill("the owner's passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#password-message")).to_contain_text("Password set")

    page.locator("#token-form [name=name]").fill("laptop")
    page.locator("#token-form [name=can_write]").check()
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token-value")
    expect(token).to_contain_text("ssk_")
    bearer = {"authorization": f"Bearer {token.inner_text()}"}
    assert httpx.get(f"{url}/api/experiments", headers=bearer).status_code == 200
    row = page.locator("#tokens tbody tr").first
    expect(row).to_contain_text("read-write")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#tokens tbody tr").first).to_contain_text("revoked")
    assert httpx.get(f"{url}/api/experiments", headers=bearer).status_code == 401

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(f"{url}/account")
    page.wait_for_url("**/login?next=%2Faccount")
