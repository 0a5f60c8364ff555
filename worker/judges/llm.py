"""An LLM as judge behind an OpenAI-compatible chat-completions endpoint (a local vLLM or llama.cpp server,
or a hosted API), with the definition's template and parse rule (first of all the StrongREJECT rubric).

The API key, if any, comes from the worker's environment variable the definition names; it is sent only to
endpoints the worker allows (SEEDSCOPE_JUDGE_ENDPOINTS) and never stored, logged or shown. Calls time out,
are retried with exponential backoff on 429 and 5xx (waiting as long as Retry-After asks, up to a limit),
run at most `concurrency` at a time, and replies are cached by (definition hash, request, response), so
judging the same pair again does not pay twice. A call that still fails, or that the endpoint refuses, is
an unscored verdict with the reason; credentials refused or an unknown endpoint or model fail the job.
"""

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from backend.judging.spec import JudgeConfig
from worker.judges.base import (
    CALL_FAILED,
    CALL_REFUSED,
    JudgeResources,
    JudgeResult,
    JudgeUnavailable,
    ReplyCache,
)
from worker.judges.parsing import parse_output
from worker.judges.prompts import render

# The longest wait a 429 or 503 may ask for; an endpoint that wants longer is treated as down for this call.
MAX_RETRY_AFTER_S = 120.0
MAX_BACKOFF_S = 30.0


def reply_key(content_hash: str, request: str, response: str) -> str:
    """The cache key of one judged pair under one definition's behaviour."""
    return hashlib.sha256(json.dumps([content_hash, request, response]).encode()).hexdigest()


def endpoint_allowed(endpoint: str, allowed: Sequence[str]) -> bool:
    """Whether `endpoint` is one of the allowed URL prefixes, or under one."""
    return any(
        endpoint == prefix.rstrip("/") or endpoint.startswith(prefix.rstrip("/") + "/") for prefix in allowed
    )


@dataclass(frozen=True)
class _Call:
    """One call's outcome: the assistant's reply, or why there is none."""

    reply: str | None
    reason: str = CALL_FAILED
    problem: str = ""


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the endpoint asks to wait (Retry-After: seconds or an HTTP date), if it says."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_message(response: httpx.Response) -> str:
    """The endpoint's own explanation: OpenAI-style {"error": {"message": ...}}, else the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or response.text)[:300]


class OpenAIChatJudge:
    def __init__(
        self,
        config: JudgeConfig,
        *,
        allowed_endpoints: Sequence[str],
        replies: ReplyCache | None,
        environ: Mapping[str, str],
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        assert config.endpoint and config.model and config.template and config.parse
        self.config = config
        self._url = f"{config.endpoint}/chat/completions"
        self._replies = replies
        self._sleep = sleep
        listed = endpoint_allowed(config.endpoint, allowed_endpoints)
        headers = {}
        if config.api_key_env is not None:
            if not listed:
                raise JudgeUnavailable(
                    f"the worker sends API keys only to the endpoints in SEEDSCOPE_JUDGE_ENDPOINTS, and "
                    f"{config.endpoint} is not one of them"
                )
            key = environ.get(config.api_key_env)
            if not key:
                raise JudgeUnavailable(
                    f"the worker's environment has no {config.api_key_env}: set it where the worker runs"
                )
            headers["authorization"] = f"Bearer {key}"
        elif allowed_endpoints and not listed:
            raise JudgeUnavailable(f"{config.endpoint} is not in the worker's SEEDSCOPE_JUDGE_ENDPOINTS")
        self._client = httpx.Client(timeout=config.timeout_s, headers=headers, transport=transport)

    def _messages(self, request: str, response: str) -> list[dict[str, str]]:
        assert self.config.template is not None
        system = (
            [{"role": "system", "content": self.config.system_template}]
            if self.config.system_template
            else []
        )
        return [*system, {"role": "user", "content": render(self.config.template, request, response)}]

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(1.0, 1.25)

    def _call(self, request: str, response: str) -> _Call:
        payload = {
            "model": self.config.model,
            "messages": self._messages(request, response),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        attempts = (self.config.max_retries or 0) + 1
        problem = ""
        for attempt in range(attempts):
            wait = self._backoff(attempt)
            try:
                answer = self._client.post(self._url, json=payload)
            except httpx.TimeoutException:
                problem = f"no answer within {self.config.timeout_s:g} s"
            except httpx.TransportError as error:
                problem = f"could not reach {self.config.endpoint} ({type(error).__name__})"
            else:
                status = answer.status_code
                if status == 200:
                    return self._reply(answer)
                if status in (401, 403):
                    raise JudgeUnavailable(
                        f"{self.config.endpoint} refused the credentials (HTTP {status}): check "
                        f"{self.config.api_key_env or 'the API key'} in the worker's environment"
                    )
                if status == 404:
                    raise JudgeUnavailable(
                        f"{self._url} answered 404 (HTTP Not Found): check the endpoint and the model "
                        f"name {self.config.model!r}"
                    )
                if status != 429 and status < 500:
                    return _Call(None, CALL_REFUSED, f"HTTP {status}: {_error_message(answer)}")
                problem = f"HTTP {status}"
                asked = _retry_after(answer)
                if asked is not None and asked > MAX_RETRY_AFTER_S:
                    return _Call(None, CALL_FAILED, f"{problem}; the endpoint asks to wait {asked:.0f} s")
                wait = asked if asked is not None else wait
            if attempt + 1 < attempts:
                self._sleep(wait)
        return _Call(None, CALL_FAILED, f"{problem} ({attempts} attempts)")

    def _reply(self, answer: httpx.Response) -> _Call:
        try:
            choice = answer.json()["choices"][0]
            content = choice["message"].get("content")
            finish = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return _Call(None, CALL_FAILED, f"not a chat-completions answer: {answer.text[:200]!r}")
        if finish == "content_filter":
            return _Call(None, CALL_REFUSED, "the endpoint's content filter stopped the answer")
        return _Call(str(content or ""))

    def judge_batch(self, prompts: Sequence[str], responses: Sequence[str]) -> list[JudgeResult]:
        config = self.config
        assert config.parse is not None
        digest = config.content_hash()
        keys = [
            reply_key(digest, prompt, response) for prompt, response in zip(prompts, responses, strict=True)
        ]
        cached = self._replies.get_many(keys) if self._replies is not None else {}
        todo = [index for index, key in enumerate(keys) if key not in cached]
        calls: dict[int, _Call] = {}
        if todo:
            with ThreadPoolExecutor(max_workers=min(config.concurrency or 1, len(todo))) as pool:
                outcomes = pool.map(lambda index: self._call(prompts[index], responses[index]), todo)
                calls = dict(zip(todo, outcomes, strict=True))
        fresh = {keys[index]: call.reply for index, call in calls.items() if call.reply is not None}
        if fresh and self._replies is not None:
            self._replies.put_many(fresh)
        results = []
        for index, key in enumerate(keys):
            if key in cached:
                results.append(
                    parse_output(config.parse, cached[key], config.threshold).with_details(cached=True)
                )
                continue
            call = calls[index]
            if call.reply is None:
                results.append(JudgeResult.unscored(call.reason, call.problem))
            else:
                results.append(parse_output(config.parse, call.reply, config.threshold))
        return results

    def close(self) -> None:
        self._client.close()


def build_openai_chat_judge(config: JudgeConfig, resources: JudgeResources) -> OpenAIChatJudge:
    return OpenAIChatJudge(
        config,
        allowed_endpoints=resources.settings.judge_endpoint_list,
        replies=resources.replies,
        environ=os.environ,
    )
