"""What an LLM judge definition can make a worker reach: public addresses only, checked after DNS resolution
and connected to as checked, unless the operator allows an internal endpoint; its API key only for the
projects the operator gives it to; and what an endpoint answers comes back bounded."""

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from backend.domain import Verdict
from backend.judging.builtins import JUDGE_PRESETS
from backend.judging.definition import STORED, JudgeConfig, JudgeSpec
from tests.conftest import missing_service
from tests.support.openai_server import SECRET, ServerState, openai_server
from worker.judges import build_judge, load_judge
from worker.judges.base import CALL_FAILED, CALL_REFUSED, JudgeResources, JudgeResult, JudgeUnavailable
from worker.judges.llm import MAX_ECHO_CHARS

KEY_ENV = "SEEDSCOPE_JUDGE_KEY_TEAM_A"
HARMFUL = Verdict.HARMFUL
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(scope="module")
def server() -> Iterator[ServerState]:
    with openai_server() as state:
        yield state


def config(endpoint: str, **overrides: object) -> JudgeConfig:
    preset = {**JUDGE_PRESETS["strongreject"], "endpoint": endpoint, "model": "judge-model"}
    return JudgeSpec.model_validate({**preset, "max_retries": 0, "timeout_s": 5, **overrides}).config()


def judged(settings: Settings, endpoint: str, mode: str = "helpful") -> JudgeResult:
    """One pair judged by a fresh judge of the endpoint, defined in project 1."""
    judge = build_judge(config(endpoint), JudgeResources(settings, project_id=1))
    (result,) = judge.judge_batch([f"q MODE:{mode}"], ["r"])
    return result


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Names in `answers` resolve to its addresses, everything else as usual; returns the names looked up."""
    looked_up: list[str] = []

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        looked_up.append(host)
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)  # type: ignore[arg-type]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_a_loopback_endpoint_is_called_only_when_the_operator_allows_it(server: ServerState) -> None:
    before = sum(server.calls.values())
    with pytest.raises(JudgeUnavailable, match=re.escape("127.0.0.1 is a loopback address")) as refused:
        judged(Settings(), server.base_url)
    assert "SEEDSCOPE_JUDGE_INTERNAL_ENDPOINTS" in str(refused.value)
    assert sum(server.calls.values()) == before
    assert judged(Settings(judge_internal_endpoints=server.base_url), server.base_url).verdict == HARMFUL


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["127.0.0.1"], "resolves to 127.0.0.1, which is a loopback address"),
        (["::ffff:127.0.0.1"], "which is a loopback address (inside an IPv6 address)"),
        (["169.254.169.254"], "which is a cloud metadata address, which no judge may call"),
        (["10.1.2.3"], "resolves to 10.1.2.3, which is a private address"),
        (["100.64.0.9"], "which is a shared (CGNAT) address"),
        (["fd12::5"], "which is a private address"),
        # Every address is checked, not only the first.
        (["8.8.8.8", "127.0.0.1"], "resolves to 127.0.0.1"),
    ],
)
def test_a_name_is_checked_after_resolution_when_the_worker_calls(
    server: ServerState, monkeypatch: pytest.MonkeyPatch, addresses: list[str], refused: str
) -> None:
    """DNS rebinding: judge.example.org passed the check when the definition was saved (a public name), and
    now resolves to an internal address."""
    fake_dns(monkeypatch, {"judge.example.org": addresses})
    before = sum(server.calls.values())
    with pytest.raises(JudgeUnavailable, match=re.escape(refused)):
        judged(Settings(), f"http://judge.example.org:{server.port}/v1")
    assert sum(server.calls.values()) == before


def test_the_connection_goes_to_the_address_that_was_checked(
    server: ServerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once per connection, and the connection is made to that address: the HTTP
    client does not resolve the name again after the check (where a second answer could differ)."""
    endpoint = f"http://judge.example.org:{server.port}/v1"
    looked_up = fake_dns(monkeypatch, {"judge.example.org": ["127.0.0.1"]})
    assert judged(Settings(judge_internal_endpoints=endpoint), endpoint).verdict == HARMFUL
    assert looked_up.count("judge.example.org") == 1
    assert set(looked_up) <= {"judge.example.org", "127.0.0.1"}


def test_metadata_services_are_refused_even_where_internal_endpoints_are_allowed() -> None:
    endpoint = "http://169.254.169.254/latest"
    with pytest.raises(JudgeUnavailable, match="a cloud metadata address, which no judge may call"):
        judged(Settings(judge_internal_endpoints="http://169.254.169.254"), endpoint)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, certificate for judge.test signed by it, its key)."""
    try:
        _openssl("version")
    except FileNotFoundError:
        missing_service("openssl is needed to make the test certificates")
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca, key, request, certificate = (
        folder / name for name in ("ca.key", "ca.pem", "judge.key", "judge.csr", "judge.pem")
    )
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=seedscope test CA"),
        *("-keyout", str(ca_key), "-out", str(ca)),
    )
    _openssl(
        *("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=judge.test"),
        *("-keyout", str(key), "-out", str(request)),
    )
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=DNS:judge.test\n")
    _openssl(
        *("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial"),
        *("-days", "2", "-extfile", str(extensions), "-out", str(certificate)),
    )
    return ca, certificate, key


def test_https_is_verified_against_the_host_name_not_the_address(
    certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, certificate, key = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the operator's private CA
    with openai_server(tls=(certificate, key)) as tls_server:
        fake_dns(monkeypatch, {"judge.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        named = f"https://judge.test:{tls_server.port}/v1"
        misnamed = f"https://other.test:{tls_server.port}/v1"
        settings = Settings(judge_internal_endpoints=f"{named},{misnamed}")
        assert judged(settings, named).verdict == HARMFUL
        # The same address under a name the certificate does not carry: the handshake fails.
        assert f"unscored ({CALL_FAILED}): could not reach {misnamed}" in judged(settings, misnamed).output


@pytest.fixture
def allowed(server: ServerState) -> Settings:
    return Settings(judge_internal_endpoints=server.base_url)


def test_a_body_that_is_not_a_chat_completion_is_not_repeated(server: ServerState, allowed: Settings) -> None:
    output = judged(allowed, server.base_url, "secret").output
    assert output.startswith(f"unscored ({CALL_FAILED}): not a chat-completions answer (text/plain, ")
    assert SECRET not in output and "wJalrXUtnFEMI" not in output


def test_an_error_body_is_repeated_only_as_the_endpoints_message_cut_short(
    server: ServerState, allowed: Settings
) -> None:
    assert judged(allowed, server.base_url, "secret-error").output == f"unscored ({CALL_REFUSED}): HTTP 400"
    long = judged(allowed, server.base_url, "long-error").output
    assert long.startswith(f"unscored ({CALL_REFUSED}): HTTP 400: context length exceeded")
    assert long.endswith("...") and len(long) < MAX_ECHO_CHARS + 60


def test_an_endless_answer_is_not_read_to_its_end(server: ServerState, allowed: Settings) -> None:
    assert "the answer is longer than 4,194,304 bytes" in judged(allowed, server.base_url, "endless").output


def test_an_api_key_is_sent_only_for_the_projects_the_operator_gives_it_to(
    server: ServerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = config(server.base_url, api_key_env=KEY_ENV)
    settings = Settings(
        judge_internal_endpoints=server.base_url,
        judge_endpoints=server.base_url,
        judge_key_projects={KEY_ENV: [1]},
    )
    monkeypatch.setenv(KEY_ENV, "sk-team-a")
    load_judge(keyed, JudgeResources(settings, project_id=1)).judge_batch(["q MODE:helpful"], ["r"])
    assert server.authorizations[-1] == "Bearer sk-team-a"
    calls = sum(server.calls.values())
    # The same definition in another project, or as a built-in: not served from the judges built for 1.
    for project in (2, None):
        with pytest.raises(JudgeUnavailable, match="SEEDSCOPE_JUDGE_KEY_PROJECTS"):
            load_judge(keyed, JudgeResources(settings, project_id=project))
    assert sum(server.calls.values()) == calls


def test_a_stored_endpoint_is_checked_again_by_todays_rules(server: ServerState, allowed: Settings) -> None:
    """A definition saved before endpoints were normalised, with a query: read back as saved, never called."""
    saved = config(server.base_url).model_dump() | {"endpoint": f"{server.base_url}?api-version=1"}
    stored = JudgeConfig.model_validate(saved, context=STORED)
    assert stored.endpoint == f"{server.base_url}?api-version=1"
    with pytest.raises(JudgeUnavailable, match=r"holds a query"):
        build_judge(stored, JudgeResources(allowed, project_id=1))


def test_verdicts_are_still_judged_through_an_allowed_endpoint(
    server: ServerState, allowed: Settings
) -> None:
    judge = build_judge(config(server.base_url), JudgeResources(allowed, project_id=1))
    helpful, refusal = judge.judge_batch(["q MODE:helpful", "q MODE:refusal"], ["r", "r"])
    assert (helpful.verdict, refusal.verdict) == (HARMFUL, Verdict.SAFE)
