"""The account commands of `seedscope` work on the database and give credentials the API accepts."""

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from backend import cli
from backend.api.app import create_app
from backend.config import Settings
from tests.conftest import TEST_CLIENT_HOST, RecordingQueue
from tests.factories import experiment_spec


@pytest.fixture
def env_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings `seedscope` reads from the environment, on the test's database."""
    monkeypatch.setenv("SEEDSCOPE_HOME", str(settings.home))
    monkeypatch.setenv("SEEDSCOPE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SEEDSCOPE_BROKER_URL", "memory://")
    monkeypatch.setenv("SEEDSCOPE_ALLOWED_HOSTS", TEST_CLIENT_HOST)
    return Settings()


def test_token_create_prints_a_token_the_api_accepts(
    env_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["token", "create", "--write", "--name", "ci"])
    read_write = capsys.readouterr().out.strip()
    cli.main(["token", "create"])
    read_only = capsys.readouterr().out.strip()
    with TestClient(create_app(env_settings, RecordingQueue())) as client:
        submitted = client.post(
            "/api/experiments", json=experiment_spec(), headers={"authorization": f"Bearer {read_write}"}
        )
        assert submitted.status_code == 201 and submitted.json()["project"] == "default"
        refused = client.post(
            "/api/experiments", json=experiment_spec(), headers={"authorization": f"Bearer {read_only}"}
        )
        assert refused.status_code == 403


def test_user_add_and_login_url_give_one_time_links(
    env_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["user", "add", "Dana@Example.org"])
    link = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    assert link.startswith(f"{env_settings.api_url}/login/once?token=ssl_")
    with pytest.raises(SystemExit, match="exists already"):
        cli.main(["user", "add", "dana@example.org"])
    cli.main(["login-url"])
    owner_link = capsys.readouterr().out.strip()
    with TestClient(create_app(env_settings, RecordingQueue())) as client:
        client.get(link.removeprefix(env_settings.api_url))
        assert client.get("/api/me").json()["user"]["email"] == "dana@example.org"
        assert client.get("/api/projects").json() == []  # in no project until an owner adds them
        client.get(owner_link.removeprefix(env_settings.api_url))
        assert client.get("/api/me").json()["user"]["email"] == env_settings.local_owner_email


def test_the_api_commands_ask_for_a_token(env_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDSCOPE_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="set SEEDSCOPE_TOKEN"):
        cli.main(["cancel", "1"])


def test_judge_add_posts_a_yaml_definition(
    env_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli.main(["token", "create", "--write"])
    token = capsys.readouterr().out.strip()
    definition = tmp_path / "judge.yaml"
    definition.write_text("name: strict-minilm\nkind: refusal-minilm\nthreshold: 0.4\n")
    with TestClient(create_app(env_settings, RecordingQueue())) as client:
        # The CLI's HTTP calls go to the test app, which answers to the test client's own host.
        def post(url: str, timeout: float, **kwargs: object) -> object:
            return client.post(url.removeprefix(env_settings.api_url), **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(cli.httpx, "post", post)
        monkeypatch.setenv("SEEDSCOPE_TOKEN", token)
        cli.main(["judge", "add", str(definition)])
        assert "judge strict-minilm@1 (refusal-minilm, sha256:" in capsys.readouterr().out
        definition.write_text("name: strict-minilm\nkind: refusal-minilm\nthreshold: 0.5\n")
        cli.main(["judge", "add", str(definition)])
        assert "judge strict-minilm@2" in capsys.readouterr().out


def test_watch_waits_for_the_checkpoints_evaluations_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs of the conditions done, an intermediate checkpoint still queued: not finished yet."""
    run = {
        "condition_name": "tuned",
        "seed": 0,
        "status": "done",
        "progress": 1.0,
        "progress_message": "done",
        "error": None,
    }
    states = [{"queued": 1, "done": 1}, {"done": 2}]
    answers = iter(
        {
            "runs": [{**run, "rate": None}],
            "judges": [{"measures": "compliance"}],
            "checkpoint_status_counts": s,
        }
        for s in states
    )
    asked: list[str] = []

    def get(url: str, **_: object) -> httpx.Response:
        asked.append(url)
        return httpx.Response(200, json=next(answers), request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", get)
    assert cli.watch(Settings(token="ssk_test"), 7, interval_s=0)
    assert len(asked) == 2
