"""Projects keep their data to their members; share links show exactly one experiment, in their scope."""

import contextlib
import json
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from backend.api.auth import InExperiment, InRun, SharePage, declared_routes
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Role, ShareScope
from backend.errors import Conflict
from backend.migrate import upgrade_to_head
from backend.models import (
    Condition,
    Experiment,
    Generation,
    Judgment,
    PromptCell,
    Run,
    ShareLink,
    User,
    utcnow,
)
from backend.repositories import projects as project_repository
from backend.services import accounts, projects
from tests.factories import experiment_spec, upload_small_benchmark
from tests.support.accounts import PASSWORD, USERS, World, build_world


@pytest.fixture
def world(anonymous_client: TestClient, migrated: Settings) -> World:
    return build_world(anonymous_client, migrated)


# --- projects ----------------------------------------------------------------------------------------


def test_another_projects_data_answers_404_like_data_that_does_not_exist(
    anonymous_client: TestClient, world: World
) -> None:
    outsider = world.cookie("outsider")
    for path in (f"/api/experiments/{world.experiment_id}", f"/api/runs/{world.done_run_id}"):
        theirs = anonymous_client.get(path, headers=outsider)
        missing = anonymous_client.get(
            path.replace(str(world.experiment_id), "999").replace(str(world.done_run_id), "999"),
            headers=outsider,
        )
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["detail"].split()[0] == missing.json()["detail"].split()[0]
    assert anonymous_client.get("/api/experiments", headers=outsider).json()["total"] == 0
    # The viewer sees the experiment, and is refused (403, not 404) what their role does not allow.
    viewer = world.cookie("viewer")
    assert anonymous_client.get(f"/api/experiments/{world.experiment_id}", headers=viewer).status_code == 200
    cancel = anonymous_client.post(f"/api/experiments/{world.experiment_id}/cancel", headers=viewer)
    assert cancel.status_code == 403 and "viewer" in cancel.json()["detail"]


def test_datasets_are_visible_to_their_project_and_the_builtins_to_everyone(
    anonymous_client: TestClient, world: World
) -> None:
    catalog = anonymous_client.get("/api/catalog", headers=world.cookie("outsider")).json()
    assert all(b["project_id"] is None for b in catalog["benchmarks"])
    spec = experiment_spec(project=world.project_b, benchmark="four-prompts")
    response = anonymous_client.post("/api/experiments", json=spec, headers=world.cookie("outsider"))
    assert response.status_code == 422 and "unknown benchmark 'four-prompts'" in response.json()["detail"]
    # Project B may store a benchmark of the same name and version with other content.
    upload_small_benchmark(anonymous_client, "four-prompts", 2, headers=world.cookie("outsider"))
    mine = anonymous_client.get("/api/catalog", headers=world.cookie("editor")).json()["benchmarks"]
    assert [(b["name"], b["project_id"]) for b in mine if b["project_id"] is not None] == [
        ("four-prompts", world.project_a)
    ]


def test_a_submission_goes_to_the_named_project_or_the_first(client: TestClient) -> None:
    default = client.get("/api/projects").json()
    assert [p["name"] for p in default] == ["default"]
    first = client.post("/api/experiments", json=experiment_spec()).json()
    assert first["project"] == "default"
    other = client.post("/api/projects", json={"name": "ablations"}).json()
    by_name = client.post("/api/experiments", json=experiment_spec(project="ablations")).json()
    assert by_name["project_id"] == other["id"]
    unknown = client.post("/api/experiments", json=experiment_spec(project="nope"))
    assert unknown.status_code == 422 and "yours: default" in unknown.json()["detail"]
    listed = client.get("/api/experiments", params={"project": other["id"]}).json()
    assert [e["id"] for e in listed["items"]] == [by_name["id"]]


def test_a_viewer_cannot_submit_to_the_project(anonymous_client: TestClient, world: World) -> None:
    spec = experiment_spec(project="alpha", benchmark="four-prompts")
    response = anonymous_client.post("/api/experiments", json=spec, headers=world.cookie("viewer"))
    assert response.status_code == 403 and "viewer of project alpha" in response.json()["detail"]


def _statements(client: TestClient) -> list[str]:
    """A list that collects the SQL statements the app runs from now on (texts, without parameters)."""
    executed: list[str] = []
    engine = client.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    return executed


def test_an_invitation_answers_the_same_whether_or_not_the_email_has_an_account(
    anonymous_client: TestClient, world: World
) -> None:
    owner = world.cookie("owner")
    members = f"/api/projects/{world.project_a}/members"
    executed = _statements(anonymous_client)
    unknown = anonymous_client.post(members, json={"email": "Ghost@Example.org"}, headers=owner)
    unknown_work = list(executed)
    executed.clear()
    known = anonymous_client.post(members, json={"email": USERS["newcomer"]}, headers=owner)
    assert unknown.status_code == known.status_code == 202
    assert unknown.json().keys() == known.json().keys()
    assert unknown.json()["email"] == "ghost@example.org" and known.json()["role"] == "viewer"
    # The same statements, so no difference in time either: no account is looked up.
    assert executed == unknown_work
    detail = anonymous_client.get(f"/api/projects/{world.project_a}", headers=owner).json()
    assert {i["email"] for i in detail["invitations"]} == {"ghost@example.org", USERS["newcomer"]}
    assert USERS["newcomer"] not in {m["email"] for m in detail["members"]}


def test_invitations_become_memberships_when_their_account_is_next_seen(
    anonymous_client: TestClient, world: World
) -> None:
    owner = world.cookie("owner")
    members = f"/api/projects/{world.project_a}/members"
    for email, role in (
        (USERS["newcomer"], "viewer"),
        (USERS["newcomer"], "editor"),
        ("late@example.org", "viewer"),
    ):
        assert (
            anonymous_client.post(members, json={"email": email, "role": role}, headers=owner).status_code
            == 202
        )
    # Re-inviting changed the role; the newcomer's next request makes them a member.
    newcomer_projects = anonymous_client.get("/api/projects", headers=world.cookie("newcomer")).json()
    assert [(p["name"], p["role"]) for p in newcomer_projects] == [("alpha", "editor")]
    # An account made later for an invited address joins when it signs in.
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        accounts.add_user(session, "late@example.org", PASSWORD)
    login = anonymous_client.post("/api/auth/login", json={"email": "late@example.org", "password": PASSWORD})
    assert login.status_code == 200
    assert [p["name"] for p in anonymous_client.get("/api/projects").json()] == ["alpha"]
    anonymous_client.cookies.clear()
    detail = anonymous_client.get(f"/api/projects/{world.project_a}", headers=owner).json()
    assert detail["invitations"] == []
    assert {USERS["newcomer"], "late@example.org"} <= {m["email"] for m in detail["members"]}
    assert anonymous_client.post(members, json={"email": USERS["viewer"]}, headers=owner).status_code == 409


def test_members_are_managed_by_owners_and_a_project_keeps_an_owner(
    anonymous_client: TestClient, world: World
) -> None:
    owner = world.cookie("owner")
    members = f"/api/projects/{world.project_a}/members"
    alice = world.user_ids["owner"]
    demote = anonymous_client.patch(f"{members}/{alice}", json={"role": "viewer"}, headers=owner)
    assert demote.status_code == 409 and "only owner" in demote.json()["detail"]
    assert anonymous_client.delete(f"{members}/{alice}", headers=owner).status_code == 409
    promoted = anonymous_client.patch(
        f"{members}/{world.user_ids['editor']}", json={"role": "owner"}, headers=owner
    )
    assert promoted.status_code == 200
    assert anonymous_client.delete(f"{members}/{alice}", headers=owner).status_code == 204
    assert anonymous_client.get(f"/api/experiments/{world.experiment_id}", headers=owner).status_code == 404


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_owners_acting_on_each_other_at_once_leave_the_project_an_owner(
    database_url: str, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Each owner's request counts the owners, then both wait until the other has counted (or 2 s have
    passed, when the other is held at the lock): without the lock both would see two owners and go on."""
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        first, second = (accounts.add_user(session, f"{who}@example.org").id for who in ("ann", "bob"))
        project_id = project_repository.create_project(session, "shared", first).id
        project_repository.add_member(session, project_id, second, Role.OWNER)
        session.commit()
    both_counted = threading.Barrier(2, timeout=2)
    count_owners = project_repository.count_owners

    def count_then_wait(session: Session, project_id: int) -> int:
        owners = count_owners(session, project_id)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_counted.wait()
        return owners

    monkeypatch.setattr(project_repository, "count_owners", count_then_wait)
    outcomes: list[str] = []

    def act_on(user_id: int) -> None:
        with factory() as session:
            try:
                if change == "demote":
                    projects.change_role(session, project_id, user_id, Role.EDITOR)
                else:
                    projects.remove_member(session, project_id, user_id)
                outcomes.append("done")
            except Conflict:
                outcomes.append("refused")

    threads = [threading.Thread(target=act_on, args=(user_id,)) for user_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["done", "refused"]
    with factory() as session:
        assert count_owners(session, project_id) == 1
    engine.dispose()


# --- deleting an experiment --------------------------------------------------------------------------


def test_deleting_an_experiment_removes_its_rows_and_adapters(
    anonymous_client: TestClient, world: World, migrated: Settings
) -> None:
    factory = anonymous_client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        run_ids = list(session.scalars(select(Run.id)))
    for run_id in run_ids:
        adapter = migrated.run_artifacts_dir(run_id) / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
    path = f"/api/experiments/{world.experiment_id}"
    assert anonymous_client.delete(path, headers=world.cookie("editor")).status_code == 403
    assert anonymous_client.delete(path, headers=world.cookie("owner")).status_code == 204
    assert anonymous_client.get(path, headers=world.cookie("owner")).status_code == 404
    with factory() as session:
        for table in (Experiment, Condition, Run, Generation, Judgment, PromptCell, ShareLink):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table.__tablename__
    assert not any(migrated.run_artifacts_dir(run_id).exists() for run_id in run_ids)
    assert anonymous_client.get(f"/share/{world.share_tokens[ShareScope.FIGURES]}").status_code == 404


# --- share links -------------------------------------------------------------------------------------


def _shared_reads(client: TestClient, world: World, scope: ShareScope) -> dict[str, str]:
    """Every GET a share link of `scope` may make, with its answer's text."""
    values = {
        "experiment_id": world.experiment_id,
        "run_id": world.done_run_id,
        "prompt_id": world.prompt_id,
        "token": world.share_tokens[scope],
    }
    answers = {}
    for route in declared_routes(client.app):  # type: ignore[arg-type]
        policy = route.policy
        readable = isinstance(policy, InExperiment | InRun) and policy.share is not None
        if "GET" not in route.methods or not (readable or isinstance(policy, SharePage)):
            continue
        response = client.get(route.path.format(**values), headers=world.bearer(scope))
        if response.status_code == 200:
            answers[route.path] = response.text
    answers["/api/me"] = client.get("/api/me", headers=world.bearer(scope)).text
    return answers


def test_a_figures_only_link_shows_no_prompt_or_response_text_anywhere(
    anonymous_client: TestClient, world: World
) -> None:
    answers = _shared_reads(anonymous_client, world, ShareScope.FIGURES)
    figures = [p for p in answers if "/figures/" in p]
    # Every figure but the erosion curve, which this experiment (no training.evaluate_at) does not have.
    assert len(figures) == 9 and "/api/experiments/{experiment_id}/analysis" in answers
    assert "/share/{token}" in answers
    for text in world.prompt_texts + world.response_texts:
        # Plotly's JSON escapes some characters, so look for the text as JSON writes it too.
        leaked = [p for p, body in answers.items() if text in body or json.dumps(text)[1:-1] in body]
        assert leaked == [], f"{text!r} reached a figures-only link through {leaked}"
    # The same figures for a link with responses do carry the prompts (so the search above can find them).
    with_text = anonymous_client.get(
        f"/api/experiments/{world.experiment_id}/figures/flips", headers=world.bearer(ShareScope.RESPONSES)
    ).text
    assert any(json.dumps(text)[1:-1][:60] in with_text for text in world.prompt_texts)


def test_each_scope_opens_what_it_says_and_nothing_else(anonymous_client: TestClient, world: World) -> None:
    figures, responses = world.bearer(ShareScope.FIGURES), world.bearer(ShareScope.RESPONSES)
    prompts = f"/api/experiments/{world.experiment_id}/prompts"
    generations = f"/api/runs/{world.done_run_id}/generations"
    assert anonymous_client.get(prompts, headers=figures).status_code == 403
    assert anonymous_client.get(generations, headers=figures).status_code == 403
    assert anonymous_client.get(prompts, headers=responses).status_code == 200
    shown = anonymous_client.get(generations, headers=responses).json()["items"]
    assert {item["text"] for item in shown} <= set(world.response_texts) and shown
    # A figures-only link's run page says why it stays closed, as a page.
    run_page = f"/share/{world.share_tokens[ShareScope.FIGURES]}/runs/{world.done_run_id}"
    closed = anonymous_client.get(run_page, headers={"accept": "text/html"})
    assert closed.status_code == 403 and closed.headers["content-type"].startswith("text/html")
    assert "figures and tables only" in closed.text and "does not exist" not in closed.text
    # Another experiment of the same project is not shared by this link.
    other = anonymous_client.post(
        "/api/experiments",
        json=experiment_spec(project=world.project_a, benchmark="four-prompts"),
        headers=world.cookie("editor"),
    ).json()
    assert anonymous_client.get(f"/api/experiments/{other['id']}", headers=responses).status_code == 404
    assert anonymous_client.get(f"/api/runs/{other['runs'][0]['id']}", headers=responses).status_code == 404
    # Read-only: nothing can be changed through it.
    cancel = anonymous_client.post(f"/api/experiments/{world.experiment_id}/cancel", headers=responses)
    assert cancel.status_code == 403 and "read-only" in cancel.json()["detail"]
    assert anonymous_client.get("/api/experiments", headers=responses).status_code == 403


def test_links_record_their_maker_and_last_use_and_stop_when_revoked_or_expired(
    anonymous_client: TestClient, world: World
) -> None:
    editor = world.cookie("editor")
    links_path = f"/api/experiments/{world.experiment_id}/share-links"
    created = anonymous_client.post(
        links_path,
        json={"scope": "responses", "expires_at": (utcnow() + timedelta(days=7)).isoformat()},
        headers=editor,
    )
    assert created.status_code == 201
    link = created.json()
    assert link["created_by"] == USERS["editor"] and link["last_used_at"] is None
    token = link["path"].rsplit("/", 1)[1]
    assert len(token) >= 43 + 4  # prefix and 256 random bits (>= 128 required)
    assert anonymous_client.get(link["path"]).status_code == 200
    listed = {entry["id"]: entry for entry in anonymous_client.get(links_path, headers=editor).json()}
    assert listed[link["id"]]["last_used_at"] is not None
    assert "path" not in listed[link["id"]]
    past = anonymous_client.post(
        links_path, json={"expires_at": (utcnow() - timedelta(days=1)).isoformat()}, headers=editor
    )
    assert past.status_code == 422

    assert anonymous_client.delete(f"{links_path}/{link['id']}", headers=editor).status_code == 204
    bearer = {"authorization": f"Bearer {token}"}
    assert anonymous_client.get(link["path"]).status_code == 404
    assert anonymous_client.get(f"/api/experiments/{world.experiment_id}", headers=bearer).status_code == 404

    figures_path = f"/share/{world.share_tokens[ShareScope.FIGURES]}"
    assert anonymous_client.get(figures_path).status_code == 200
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(ShareLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert anonymous_client.get(figures_path).status_code == 404
    assert anonymous_client.get(links_path, headers=world.cookie("viewer")).status_code == 403


def test_a_link_lives_no_longer_than_its_makers_right_to_share(
    anonymous_client: TestClient, world: World
) -> None:
    editor, owner = world.cookie("editor"), world.cookie("owner")
    links_path = f"/api/experiments/{world.experiment_id}/share-links"
    members = f"/api/projects/{world.project_a}/members"
    erin = world.user_ids["editor"]

    def make_link() -> tuple[int, str]:
        link = anonymous_client.post(links_path, json={"scope": "responses"}, headers=editor).json()
        return link["id"], link["path"]

    def works(path: str) -> bool:
        bearer = {"authorization": f"Bearer {path.rsplit('/', 1)[1]}"}
        page = anonymous_client.get(path).status_code
        api = anonymous_client.get(f"/api/experiments/{world.experiment_id}", headers=bearer).status_code
        assert page == api, (page, api)
        return page == 200

    def state(link_id: int) -> str:
        listed = anonymous_client.get(links_path, headers=owner).json()
        return next(entry["state"] for entry in listed if entry["id"] == link_id)

    link_id, path = make_link()
    assert works(path) and state(link_id) == "active"
    # Demoted below editor: the link is dead, and its owner sees why.
    assert (
        anonymous_client.patch(f"{members}/{erin}", json={"role": "viewer"}, headers=owner).status_code == 200
    )
    assert not works(path) and state(link_id) == "maker_left"
    # Made editor again, they could make a new link anyway: the old one works again.
    assert (
        anonymous_client.patch(f"{members}/{erin}", json={"role": "editor"}, headers=owner).status_code == 200
    )
    assert works(path)
    # Removed from the project.
    assert anonymous_client.delete(f"{members}/{erin}", headers=owner).status_code == 204
    assert not works(path) and state(link_id) == "maker_left"
    # Their account deleted (the link's maker becomes unknown).
    assert (
        anonymous_client.post(
            members, json={"email": USERS["editor"], "role": "editor"}, headers=owner
        ).status_code
        == 202
    )
    second_id, second_path = make_link()
    assert works(second_path)
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(delete(User).where(User.id == erin))
        session.commit()
    assert not works(second_path) and state(second_id) == "maker_left"
    # The owner's own links are untouched.
    assert works(f"/share/{world.share_tokens[ShareScope.FIGURES]}")
