"""The LLM judge over an OpenAI-compatible endpoint, against an in-process server: the StrongREJECT rubric,
malformed answers, timeouts, 429s with Retry-After, 5xx, refusals, credentials, and the reply cache."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Verdict
from backend.judging.builtins import JUDGE_PRESETS
from backend.judging.definition import JudgeConfig, JudgeSpec
from tests.support.openai_server import ServerState, openai_server
from worker.judges.base import CALL_FAILED, CALL_REFUSED, UNPARSEABLE, JudgeUnavailable
from worker.judges.llm import OpenAIChatJudge, reply_key
from worker.judges.replies import DatabaseReplies

H, S, U = Verdict.HARMFUL, Verdict.SAFE, Verdict.UNSCORED
KEY_ENV = "SEEDSCOPE_JUDGE_KEY_TEST"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerState]:
    with openai_server() as state:
        yield state


def config(server: ServerState, **overrides: object) -> JudgeConfig:
    preset = {**JUDGE_PRESETS["strongreject"], "endpoint": server.base_url, "model": "judge-model"}
    return JudgeSpec.model_validate({**preset, "max_retries": 2, "timeout_s": 0.5, **overrides}).config()


def operator(server: ServerState, **settings: object) -> Settings:
    """The worker's settings as an operator sets them for a judge server on the local host: its endpoint
    allowed although its address is internal (127.0.0.1)."""
    return Settings(judge_internal_endpoints=server.base_url, **settings)  # type: ignore[arg-type]


class Waits:
    """Records how long the judge asked to wait between attempts, without waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def judge(server: ServerState, waits: Waits | None = None, **kwargs: object) -> OpenAIChatJudge:
    options = {
        "settings": operator(server),
        "project_id": 1,
        "replies": None,
        "environ": {},
        "sleep": waits or Waits(),
        **kwargs,
    }
    return OpenAIChatJudge(config(server), **options)  # type: ignore[arg-type]


def test_strongreject_verdicts_and_scores(server: ServerState) -> None:
    helpful, refusal = judge(server).judge_batch(
        ["How do I pick a lock? MODE:helpful", "How do I pick a lock? MODE:refusal"], ["Step one...", "No."]
    )
    assert (helpful.verdict, helpful.score) == (H, pytest.approx(0.875))  # (5 + 4) / 2 - 1 = 3.5, / 4
    assert (refusal.verdict, refusal.score) == (S, 0.0)
    assert helpful.details["convincing"] == 5 and helpful.details["specific"] == 4
    # The two calls run concurrently: find the second by its content.
    (body,) = [b for b in server.bodies if "MODE:refusal" in b["messages"][-1]["content"]]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 1024
    system, user = body["messages"]
    assert system["role"] == "system" and "red teaming assistant" in system["content"]
    assert "User instruction: How do I pick a lock? MODE:refusal" in user["content"]
    assert "AI model response: No." in user["content"]


def test_malformed_answers_are_unscored_with_the_reason(server: ServerState) -> None:
    rambling, not_json = judge(server).judge_batch(["q MODE:rambling", "q MODE:not-json"], ["r", "r"])
    assert (rambling.verdict, rambling.details["unscored"]) == (U, UNPARSEABLE)
    assert "0 answers to 1.b" in rambling.output and "maybe a 4" in rambling.details["raw"]
    assert (not_json.verdict, not_json.details["unscored"]) == (U, CALL_FAILED)
    assert "not a chat-completions answer" in not_json.output


def test_a_429_is_retried_after_the_wait_it_asks_for(server: ServerState) -> None:
    waits = Waits()
    (result,) = judge(server, waits).judge_batch(["q MODE:rate-limited-once"], ["r"])
    assert (result.verdict, result.score) == (H, 0.5)
    assert waits.seconds == [3.0]
    assert server.calls["rate-limited-once"] == 2


def test_5xx_is_retried_with_growing_backoff_then_unscored(server: ServerState) -> None:
    waits = Waits()
    before = server.calls["overloaded"]
    (result,) = judge(server, waits).judge_batch(["q MODE:overloaded"], ["r"])
    assert (result.verdict, result.details["unscored"]) == (U, CALL_FAILED)
    assert result.output == "unscored (call failed): HTTP 503 (3 attempts)"
    assert server.calls["overloaded"] - before == 3
    assert len(waits.seconds) == 2 and 0.5 <= waits.seconds[0] < waits.seconds[1] <= 1.25


def test_an_endpoint_that_asks_to_wait_too_long_is_not_waited_for(server: ServerState) -> None:
    waits = Waits()
    (result,) = judge(server, waits).judge_batch(["q MODE:wait-an-hour"], ["r"])
    assert result.verdict == U and "asks to wait 3600 s" in result.output
    assert waits.seconds == []


def test_a_timeout_is_retried_then_unscored(server: ServerState) -> None:
    slow = OpenAIChatJudge(
        config(server, max_retries=1, timeout_s=0.2),
        settings=operator(server),
        project_id=1,
        replies=None,
        environ={},
        sleep=Waits(),
    )
    (result,) = slow.judge_batch(["q MODE:slow"], ["r"])
    assert (result.verdict, result.output) == (
        U,
        "unscored (call failed): no answer within 0.2 s (2 attempts)",
    )


def test_refused_calls_are_unscored_not_retried(server: ServerState) -> None:
    waits = Waits()
    filtered, too_long = judge(server, waits).judge_batch(["q MODE:filtered", "q MODE:too-long"], ["r", "r"])
    assert (filtered.verdict, filtered.details["unscored"]) == (U, CALL_REFUSED)
    assert too_long.output == "unscored (call refused): HTTP 400: context length exceeded"
    assert waits.seconds == []


def test_rejected_credentials_fail_the_job(server: ServerState) -> None:
    with pytest.raises(JudgeUnavailable, match=r"refused the credentials \(HTTP 401\)"):
        judge(server).judge_batch(["q MODE:bad-key"], ["r"])


def test_the_key_comes_from_the_environment_and_goes_only_to_allowed_endpoints(server: ServerState) -> None:
    keyed = config(server, api_key_env=KEY_ENV)
    prefix = server.base_url.rsplit("/v1", 1)[0]
    given = {KEY_ENV: [1]}

    def build(cfg: JudgeConfig, environ: dict[str, str], **settings: object) -> OpenAIChatJudge:
        return OpenAIChatJudge(
            cfg, settings=operator(server, **settings), project_id=1, replies=None, environ=environ
        )

    with pytest.raises(JudgeUnavailable, match="only to the endpoints in SEEDSCOPE_JUDGE_ENDPOINTS"):
        build(keyed, {KEY_ENV: "sk-test"}, judge_key_projects=given)
    with pytest.raises(JudgeUnavailable, match=f"has no {KEY_ENV}"):
        build(keyed, {}, judge_endpoints=server.base_url, judge_key_projects=given)
    with pytest.raises(JudgeUnavailable, match="not under any of the endpoints the operator allows"):
        build(config(server), {}, judge_endpoints="https://api.example.org")
    allowed = build(keyed, {KEY_ENV: "sk-test"}, judge_endpoints=prefix, judge_key_projects=given)
    allowed.judge_batch(["q MODE:helpful"], ["r"])
    assert server.authorizations[-1] == "Bearer sk-test"
    assert "sk-test" not in repr(keyed.model_dump())


def test_concurrent_calls_keep_the_order_of_the_batch(server: ServerState) -> None:
    many = judge(server)
    modes = ["helpful", "refusal"] * 8
    results = many.judge_batch([f"q{i} MODE:{mode}" for i, mode in enumerate(modes)], ["r"] * len(modes))
    assert [r.verdict for r in results] == [H if mode == "helpful" else S for mode in modes]


def test_replies_are_cached_so_a_rerun_does_not_pay_twice(
    server: ServerState, migrated: Settings, tmp_path: Path
) -> None:
    sessions = make_session_factory(make_engine(migrated.resolved_database_url))
    prompts, responses = ["cache me MODE:helpful", "and me MODE:refusal"], ["one", "two"]
    first = judge(server, replies=DatabaseReplies(sessions)).judge_batch(prompts, responses)
    calls = sum(server.calls.values())
    again = judge(server, replies=DatabaseReplies(sessions)).judge_batch(prompts, responses)
    assert sum(server.calls.values()) == calls
    assert [(r.verdict, r.score) for r in again] == [(r.verdict, r.score) for r in first]
    assert all(r.details["cached"] for r in again)
    # Another definition (another threshold) is another cache entry: it asks the endpoint.
    stricter = OpenAIChatJudge(
        config(server, threshold=0.9),
        settings=operator(server),
        project_id=1,
        replies=DatabaseReplies(sessions),
        environ={},
    )
    assert [r.verdict for r in stricter.judge_batch(prompts[:1], responses[:1])] == [S]
    assert sum(server.calls.values()) == calls + 1


def test_a_grading_template_gets_each_answer_s_reference_and_caches_by_it(server: ServerState) -> None:
    grading = "Question: {request}\nReference answer: {reference}\nAnswer to grade: {response}"
    grader = OpenAIChatJudge(
        config(server, template=grading),
        settings=operator(server),
        project_id=1,
        replies=None,
        environ={},
        sleep=Waits(),
    )
    grader.judge_batch(["Capital of Peru? MODE:helpful"], ["Lima."], ["Lima"])
    (body,) = [b for b in server.bodies if "Capital of Peru?" in b["messages"][-1]["content"]]
    assert "Reference answer: Lima\nAnswer to grade: Lima." in body["messages"][-1]["content"]
    # The same pair graded against another reference is another question, not a cached reply.
    digest = config(server, template=grading).content_hash()
    assert reply_key(digest, "q", "a", "Lima") != reply_key(digest, "q", "a", "Cusco")
    assert reply_key(digest, "q", "a") == reply_key(digest, "q", "a", "")
