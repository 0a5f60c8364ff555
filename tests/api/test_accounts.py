"""Signing in: sessions, throttling, one-time links, API tokens, single sign-on, cross-site refusals."""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from backend.api.app import create_app
from backend.api.auth import SESSION_COOKIE
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.migrate import upgrade_to_head
from backend.models import ApiToken, LoginToken, UserSession, utcnow
from backend.services import accounts
from tests.conftest import RecordingQueue
from tests.factories import experiment_spec
from tests.support.accounts import PASSWORD, USERS, World, build_world
from tests.support.live_server import serve


@pytest.fixture
def world(anonymous_client: TestClient, migrated: Settings) -> World:
    return build_world(anonymous_client, migrated)


def login(client: TestClient, email: str = USERS["owner"], password: str = PASSWORD) -> TestClient:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return client


def fresh_client(settings: Settings, **options: object) -> TestClient:
    return TestClient(create_app(settings, RecordingQueue()), **options)  # type: ignore[arg-type]


# --- sessions ----------------------------------------------------------------------------------------


def test_login_sets_an_http_only_same_site_cookie_and_only_a_hash_is_stored(
    anonymous_client: TestClient, world: World
) -> None:
    response = anonymous_client.post(
        "/api/auth/login", json={"email": "Alice@Example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    assert anonymous_client.get("/api/me").json()["user"]["email"] == USERS["owner"]
    token = anonymous_client.cookies[SESSION_COOKIE]
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        stored = session.scalars(select(UserSession.token_hash)).all()
    assert token not in stored and len(token) >= 43  # 256 random bits, url-safe


def test_the_cookie_is_secure_over_https(migrated: Settings, world: World) -> None:
    with fresh_client(migrated, base_url="https://testserver") as client:
        cookie = login(client).cookies
        assert cookie.get(SESSION_COOKIE)
        response = client.post("/api/auth/login", json={"email": USERS["owner"], "password": PASSWORD})
        assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_email_get_the_same_answer(
    anonymous_client: TestClient, world: World
) -> None:
    wrong = anonymous_client.post("/api/auth/login", json={"email": USERS["owner"], "password": "nope"})
    unknown = anonymous_client.post(
        "/api/auth/login", json={"email": "nobody@example.org", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email or password"}


def test_an_expired_session_is_refused(anonymous_client: TestClient, world: World) -> None:
    login(anonymous_client)
    assert anonymous_client.get("/api/projects").status_code == 200
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert anonymous_client.get("/api/projects").status_code == 401
    page = anonymous_client.get("/projects", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fprojects"


def test_logout_ends_the_session_on_the_server(anonymous_client: TestClient, world: World) -> None:
    login(anonymous_client)
    stolen = anonymous_client.cookies[SESSION_COOKIE]
    assert anonymous_client.post("/api/auth/logout").status_code == 204
    replayed = anonymous_client.get("/api/me", headers={"cookie": f"{SESSION_COOKIE}={stolen}"})
    assert replayed.status_code == 401


def test_changing_the_password_ends_every_other_session(migrated: Settings, world: World) -> None:
    with fresh_client(migrated) as laptop, fresh_client(migrated) as phone:
        login(laptop)
        login(phone)
        new_password = "a much better passphrase"
        weak = laptop.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
        assert weak.status_code == 422 and "at least 10 characters" in weak.json()["detail"]
        wrong = laptop.post(
            "/api/auth/password", json={"current_password": "guess", "new_password": new_password}
        )
        assert wrong.status_code == 422 and "current password is wrong" in wrong.json()["detail"]
        changed = laptop.post(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": new_password}
        )
        assert changed.status_code == 204
        assert laptop.get("/api/me").status_code == 200
        assert phone.get("/api/me").status_code == 401
        login(phone, password=new_password)


def test_the_local_owner_without_a_password_sets_one_without_the_current(client: TestClient) -> None:
    assert client.get("/api/me").json()["user"]["has_password"] is False
    response = client.post("/api/auth/password", json={"new_password": "owner's new passphrase"})
    assert response.status_code == 204
    assert client.get("/api/me").json()["user"]["has_password"] is True


# --- throttling --------------------------------------------------------------------------------------


@pytest.fixture
def strict(migrated: Settings) -> Iterator[tuple[TestClient, Settings]]:
    settings = migrated.model_copy(update={"login_failures_per_account": 3, "login_failures_per_address": 5})
    with fresh_client(settings) as client:
        yield client, settings


def test_failed_logins_are_throttled_per_account(strict: tuple[TestClient, Settings]) -> None:
    client, settings = strict
    build_world(client, settings)
    for _ in range(3):
        assert (
            client.post("/api/auth/login", json={"email": USERS["owner"], "password": "x"}).status_code == 401
        )
    # Now even the right password is refused until the window has passed.
    refused = client.post("/api/auth/login", json={"email": USERS["owner"], "password": PASSWORD})
    assert refused.status_code == 429
    assert "too many failed sign-in attempts for this account" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    # Another account from the same address is not locked by it.
    login(client, USERS["editor"])


def test_failed_logins_are_throttled_per_address(strict: tuple[TestClient, Settings]) -> None:
    client, settings = strict
    build_world(client, settings)
    for index in range(5):
        client.post("/api/auth/login", json={"email": f"guess{index}@example.org", "password": "x"})
    refused = client.post("/api/auth/login", json={"email": USERS["viewer"], "password": PASSWORD})
    assert refused.status_code == 429
    assert "for your address" in refused.json()["detail"] and refused.headers["retry-after"]


# --- one-time sign-in links --------------------------------------------------------------------------


def test_a_one_time_link_works_once_and_expires(anonymous_client: TestClient, migrated: Settings) -> None:
    factory = anonymous_client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        owner = accounts.find_user(session, None, migrated)
        link = accounts.create_login_link(session, migrated, owner.id, next_path="/projects")
        expired = accounts.create_login_link(session, migrated, owner.id)
        session.execute(
            update(LoginToken).where(LoginToken.id == 2).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    first = anonymous_client.get(link, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/projects"
    assert anonymous_client.get("/api/me").json()["user"]["email"] == migrated.local_owner_email
    anonymous_client.cookies.clear()
    for used_or_expired in (link, expired):
        again = anonymous_client.get(used_or_expired, follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == "/login?error=link"
    assert anonymous_client.get("/api/me").status_code == 401


def test_a_one_time_link_does_not_redirect_to_another_site(
    anonymous_client: TestClient, migrated: Settings
) -> None:
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        owner = accounts.find_user(session, None, migrated)
        link = accounts.create_login_link(session, migrated, owner.id, next_path="//evil.example/")
    assert anonymous_client.get(link, follow_redirects=False).headers["location"] == "/"


# --- API tokens --------------------------------------------------------------------------------------


def test_tokens_are_shown_once_stored_hashed_and_read_only_unless_asked(client: TestClient) -> None:
    created = client.post("/api/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("ssk_") and created.json()["can_write"] is False
    assert "token" not in client.get("/api/tokens").json()[0]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert token not in session.scalars(select(ApiToken.token_hash)).all()

    bearer = {"authorization": f"Bearer {token}"}
    client.cookies.clear()
    assert client.get("/api/experiments", headers=bearer).status_code == 200
    refused = client.post("/api/experiments", json=experiment_spec(), headers=bearer)
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.get("/api/tokens").status_code == 401  # no cookie: the token was the only credential


def test_a_read_write_token_submits_and_a_revoked_one_fails(client: TestClient) -> None:
    created = client.post("/api/tokens", json={"name": "ci", "can_write": True}).json()
    bearer = {"authorization": f"Bearer {created['token']}"}
    assert client.post("/api/experiments", json=experiment_spec(), headers=bearer).status_code == 201
    assert client.delete(f"/api/tokens/{created['id']}").status_code == 204
    revoked = client.get("/api/experiments", headers=bearer)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert client.get("/api/tokens").json()[0]["revoked_at"] is not None
    assert client.get("/api/experiments", headers={"authorization": "Bearer garbage"}).status_code == 401


def test_a_token_of_one_user_cannot_be_revoked_by_another(anonymous_client: TestClient, world: World) -> None:
    response = anonymous_client.delete(f"/api/tokens/{world.owner_token_id}", headers=world.cookie("editor"))
    assert response.status_code == 404


# --- single sign-on through a reverse proxy ----------------------------------------------------------


def test_the_sso_header_is_trusted_only_from_the_configured_proxy(migrated: Settings) -> None:
    settings = migrated.model_copy(
        update={"sso_header": "X-Forwarded-Email", "trusted_proxies": "10.0.0.0/8"}
    )
    header = {"x-forwarded-email": "sam@corp.example"}
    with fresh_client(settings, client=("10.1.2.3", 40000)) as via_proxy:
        me = via_proxy.get("/api/me", headers=header)
        assert me.status_code == 200 and me.json()["user"]["email"] == "sam@corp.example"
        # A cross-site form through the proxy is still refused: the header is a browser credential.
        foreign = via_proxy.post(
            "/api/projects", json={"name": "x"}, headers={**header, "origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        assert via_proxy.post("/api/projects", json={"name": "sam's"}, headers=header).status_code == 201
    with fresh_client(settings, client=("192.168.1.9", 40000)) as direct:
        assert direct.get("/api/me", headers=header).status_code == 401
    with fresh_client(migrated, client=("10.1.2.3", 40000)) as sso_off:
        assert sso_off.get("/api/me", headers=header).status_code == 401


# --- cross-site requests -----------------------------------------------------------------------------


def test_state_changes_from_another_site_are_refused(client: TestClient) -> None:
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    cancel = f"/api/experiments/{experiment['id']}/cancel"
    foreign = client.post(cancel, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Origin https://evil.example" in foreign.json()["detail"]
    fetch_metadata = client.post(cancel, headers={"sec-fetch-site": "cross-site"})
    assert fetch_metadata.status_code == 403 and "cross-site" in fetch_metadata.json()["detail"]
    assert client.post(cancel, headers={"origin": "null"}).status_code == 403
    # Nothing was cancelled by the refused requests; the same site may.
    assert {r["status"] for r in client.get(f"/api/experiments/{experiment['id']}").json()["runs"]} == {
        "queued"
    }
    same_site = client.post(cancel, headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert same_site.status_code == 200


def test_a_bearer_token_is_not_subject_to_the_origin_check(client: TestClient) -> None:
    token = client.post("/api/tokens", json={"name": "script", "can_write": True}).json()["token"]
    client.cookies.clear()
    response = client.post(
        "/api/experiments",
        json=experiment_spec(),
        headers={"authorization": f"Bearer {token}", "origin": "https://notebook.example"},
    )
    assert response.status_code == 201


def test_login_from_another_site_is_refused(anonymous_client: TestClient, world: World) -> None:
    response = anonymous_client.post(
        "/api/auth/login",
        json={"email": USERS["owner"], "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_the_yaml_endpoint_refuses_text_plain(client: TestClient) -> None:
    document = yaml.safe_dump(experiment_spec()).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post("/api/experiments/yaml", content=document, headers=headers)
        assert response.status_code == 415, content_type
        assert "application/yaml" in response.json()["detail"]
    assert client.get("/api/experiments").json()["total"] == 0


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """30 wrong passwords for one account at once, against a real server: at most the limit (5) are
    checked (401), the rest refused (429), whatever the interleaving."""
    database_url = (
        f"sqlite:///{tmp_path / 'seedscope.sqlite'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    settings = Settings(
        home=tmp_path / "home", database_url=database_url, broker_url="memory://", allowed_hosts=["127.0.0.1"]
    )
    settings.ensure_dirs()
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        accounts.add_user(session, USERS["owner"], PASSWORD)
    engine.dispose()
    with serve(create_app(settings, RecordingQueue())) as base_url, ThreadPoolExecutor(30) as pool:
        wrong = {"email": USERS["owner"], "password": "not the password"}
        statuses = Counter(
            pool.map(
                lambda _: httpx.post(f"{base_url}/api/auth/login", json=wrong, timeout=60).status_code,
                range(30),
            )
        )
    assert statuses[401] <= settings.login_failures_per_account, statuses
    assert statuses[401] + statuses[429] == 30, statuses


def test_failures_from_elsewhere_do_not_lock_the_owner_out(migrated: Settings) -> None:
    settings = migrated.model_copy(update={"login_failures_per_account": 3, "trusted_proxies": "127.0.0.1"})
    with fresh_client(settings, client=("127.0.0.1", 50000)) as client:
        build_world(client, settings)
        attacker, owner = {"x-forwarded-for": "203.0.113.9"}, {"x-forwarded-for": "198.51.100.7"}
        guess = {"email": USERS["owner"], "password": "guess"}
        for _ in range(3):
            assert client.post("/api/auth/login", json=guess, headers=attacker).status_code == 401
        refused = client.post("/api/auth/login", json=guess, headers=attacker)
        assert refused.status_code == 429
        assert "for this account from your address" in refused.json()["detail"]
        right = {"email": USERS["owner"], "password": PASSWORD}
        assert client.post("/api/auth/login", json=right, headers=owner).status_code == 200
        # The attacker's address stays refused, even with the right password.
        assert client.post("/api/auth/login", json=right, headers=attacker).status_code == 429


# --- the sign-in redirect --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "next_path",
    [
        "/\\evil.example",
        "//evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "https://evil.example/",
    ],
)
def test_a_one_time_link_never_redirects_off_site(
    anonymous_client: TestClient, migrated: Settings, next_path: str
) -> None:
    with anonymous_client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        owner = accounts.find_user(session, None, migrated)
        link = accounts.create_login_link(session, migrated, owner.id)
    # The value as a browser would send it, whoever built the link.
    response = anonymous_client.get(f"{link}&{urlencode({'next': next_path})}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_page_sends_an_anonymous_visitor_to_sign_in_and_back(anonymous_client: TestClient) -> None:
    response = anonymous_client.get("/projects", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fprojects"
