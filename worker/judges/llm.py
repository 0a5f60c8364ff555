"""An LLM as judge behind an OpenAI-compatible chat-completions endpoint (a local vLLM or llama.cpp server,
or a hosted API), with the definition's template and parse rule (first of all the StrongREJECT rubric).

The endpoint and the API key are checked against the operator's settings before anything is sent
(backend.judging.endpoints), and every connection goes to an address checked after DNS resolution
(worker.judges.transport). The key, if any, comes from the worker's environment variable the definition
names and is never stored, logged or shown. Calls time out, are retried with exponential backoff on 429 and
5xx (waiting as long as Retry-After asks, up to a limit), run at most `concurrency` at a time, and replies
are cached by (definition hash, request, response), so judging the same pair again does not pay twice. A
call that still fails, or that the endpoint refuses, is an unscored verdict with the reason (the endpoint's
own error message, cut short: never a reply's body as such); credentials refused, an unknown endpoint or
model, or an endpoint or address the settings refuse fail the job.
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
from typing import Any

import httpx

from backend.config import Settings
from backend.judging.definition import JudgeConfig
from backend.judging.endpoints import EndpointRefused, EndpointRules
from backend.net.addresses import IPAddress
from backend.net.urls import parse_http_url
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
from worker.judges.transport import CheckedTransport, Resolver, system_resolver

# The longest wait a 429 or 503 may ask for; an endpoint that wants longer is treated as down for this call.
MAX_RETRY_AFTER_S = 120.0
MAX_BACKOFF_S = 30.0
# A reply larger than this is not read to its end (the longest answer max_tokens allows is far smaller).
MAX_REPLY_BYTES = 4 * 2**20
# How much of an endpoint's own error message a verdict repeats.
MAX_ECHO_CHARS = 200


def reply_key(content_hash: str, request: str, response: str, reference: str = "") -> str:
    """The cache key of one judged pair (graded against `reference`, if any) under one definition's
    behaviour."""
    judged = [content_hash, request, response, *([reference] if reference else [])]
    return hashlib.sha256(json.dumps(judged).encode()).hexdigest()


@dataclass(frozen=True)
class _Call:
    """One call's outcome: the assistant's reply, or why there is none."""

    reply: str | None
    reason: str = CALL_FAILED
    problem: str = ""


@dataclass(frozen=True)
class _Answer:
    """An HTTP answer, its body read up to MAX_REPLY_BYTES (None: it was longer)."""

    status: int
    headers: httpx.Headers
    body: bytes | None


def _read(response: httpx.Response) -> _Answer:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            return _Answer(response.status_code, response.headers, None)
    return _Answer(response.status_code, response.headers, bytes(body))


def _json(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body is not None else None
    except ValueError:
        return None


def _retry_after(response: _Answer) -> float | None:
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


def _error_message(answer: _Answer) -> str:
    """The endpoint's own explanation, OpenAI-style ({"error": {"message": ...}}), on one line and cut
    short; nothing from any other body, which could be anything a server at that address returns."""
    document = _json(answer.body)
    error = document.get("error") if isinstance(document, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message.strip():
        return ""
    flat = " ".join(message.split())
    return ": " + (flat if len(flat) <= MAX_ECHO_CHARS else flat[:MAX_ECHO_CHARS] + "...")


class OpenAIChatJudge:
    def __init__(
        self,
        config: JudgeConfig,
        *,
        settings: Settings,
        project_id: int | None,
        replies: ReplyCache | None,
        environ: Mapping[str, str],
        sleep: Callable[[float], None] = time.sleep,
        resolve: Resolver = system_resolver,
    ) -> None:
        """`project_id`: the definition's project (None: a built-in), whose keys it may use."""
        assert config.endpoint and config.model and config.template and config.parse
        self.config = config
        self._replies = replies
        self._sleep = sleep
        rules = EndpointRules.from_settings(settings)
        try:
            # Stored definitions are read as saved: parse and check again by today's rules.
            endpoint = parse_http_url(config.endpoint)
            rules.check_endpoint(endpoint)
            if config.api_key_env is not None:
                rules.check_key(endpoint, config.api_key_env, project_id)
        except ValueError as error:
            raise JudgeUnavailable(str(error)) from None
        self._endpoint = endpoint
        self._url = f"{endpoint}/chat/completions"
        headers = {}
        if config.api_key_env is not None:
            key = environ.get(config.api_key_env)
            if not key:
                raise JudgeUnavailable(
                    f"the worker's environment has no {config.api_key_env}: set it where the worker runs"
                )
            headers["authorization"] = f"Bearer {key}"

        def check(host: str, address: IPAddress) -> None:
            if host != endpoint.host:
                raise EndpointRefused(f"endpoint {endpoint}: a connection to {host} was asked for")
            rules.check_address(endpoint, address)

        self._client = httpx.Client(
            timeout=config.timeout_s,
            headers=headers,
            transport=CheckedTransport(check, resolve=resolve),
            follow_redirects=False,
            trust_env=False,  # nothing from the environment decides where a call goes
        )

    def _messages(self, request: str, response: str, reference: str = "") -> list[dict[str, str]]:
        assert self.config.template is not None
        system = (
            [{"role": "system", "content": self.config.system_template}]
            if self.config.system_template
            else []
        )
        content = render(self.config.template, request, response, reference)
        return [*system, {"role": "user", "content": content}]

    def _backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(1.0, 1.25)

    def _call(self, request: str, response: str, reference: str = "") -> _Call:
        payload = {
            "model": self.config.model,
            "messages": self._messages(request, response, reference),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        attempts = (self.config.max_retries or 0) + 1
        problem = ""
        for attempt in range(attempts):
            wait = self._backoff(attempt)
            try:
                with self._client.stream("POST", self._url, json=payload) as streamed:
                    answer = _read(streamed)
            except EndpointRefused as error:
                raise JudgeUnavailable(str(error)) from None
            except httpx.TimeoutException:
                problem = f"no answer within {self.config.timeout_s:g} s"
            except httpx.TransportError as error:
                problem = f"could not reach {self._endpoint} ({type(error).__name__})"
            else:
                status = answer.status
                if status == 200:
                    return self._reply(answer)
                if status in (401, 403):
                    raise JudgeUnavailable(
                        f"{self._endpoint} refused the credentials (HTTP {status}): check "
                        f"{self.config.api_key_env or 'the API key'} in the worker's environment"
                    )
                if status == 404:
                    raise JudgeUnavailable(
                        f"{self._url} answered 404 (HTTP Not Found): check the endpoint and the model "
                        f"name {self.config.model!r}"
                    )
                if status != 429 and status < 500:
                    return _Call(None, CALL_REFUSED, f"HTTP {status}{_error_message(answer)}")
                problem = f"HTTP {status}"
                asked = _retry_after(answer)
                if asked is not None and asked > MAX_RETRY_AFTER_S:
                    return _Call(None, CALL_FAILED, f"{problem}; the endpoint asks to wait {asked:.0f} s")
                wait = asked if asked is not None else wait
            if attempt + 1 < attempts:
                self._sleep(wait)
        return _Call(None, CALL_FAILED, f"{problem} ({attempts} attempts)")

    def _reply(self, answer: _Answer) -> _Call:
        if answer.body is None:
            return _Call(None, CALL_FAILED, f"the answer is longer than {MAX_REPLY_BYTES:,} bytes")
        try:
            choice = _json(answer.body)["choices"][0]
            content = choice["message"].get("content")
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            kind = answer.headers.get("content-type", "no content type").split(";")[0][:60]
            return _Call(
                None, CALL_FAILED, f"not a chat-completions answer ({kind}, {len(answer.body):,} bytes)"
            )
        if finish == "content_filter":
            return _Call(None, CALL_REFUSED, "the endpoint's content filter stopped the answer")
        return _Call(str(content or ""))

    def judge_batch(
        self, prompts: Sequence[str], responses: Sequence[str], references: Sequence[str] | None = None
    ) -> list[JudgeResult]:
        config = self.config
        assert config.parse is not None
        digest = config.content_hash()
        graded = references if references is not None else [""] * len(prompts)
        keys = [reply_key(digest, *pair) for pair in zip(prompts, responses, graded, strict=True)]
        cached = self._replies.get_many(keys) if self._replies is not None else {}
        todo = [index for index, key in enumerate(keys) if key not in cached]
        calls: dict[int, _Call] = {}
        if todo:
            with ThreadPoolExecutor(max_workers=min(config.concurrency or 1, len(todo))) as pool:
                outcomes = pool.map(
                    lambda index: self._call(prompts[index], responses[index], graded[index]), todo
                )
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
        settings=resources.settings,
        project_id=resources.project_id,
        replies=resources.replies,
        environ=os.environ,
    )
