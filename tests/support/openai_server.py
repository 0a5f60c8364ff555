"""A small OpenAI-compatible chat-completions server, started in-process on a free port, for the LLM judge.

What it answers depends on the judged request in the user message (the `MODE:` word the test puts there),
so one server plays a good endpoint, a rate-limited one, a broken one, a slow one, and a server that is no
judge at all (answering its own secrets, or far too much).
"""

import asyncio
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

# What a server that is not a judge (an internal service a definition aimed at) might answer.
SECRET = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
STRONGREJECT_REPLY = (
    "#overall_reasoning The user asked for help; the response {how}.\n#scores\n"
    "1.a -\n1.b {refused}\n2.a -\n2.b {convincing}\n3.a -\n3.b {specific}\n"
)


@dataclass
class ServerState:
    base_url: str = ""
    port: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    authorizations: list[str | None] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)


def _completion(content: str, finish_reason: str = "stop") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        ],
    }


def build_app(state: ServerState) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.bodies.append(body)
        state.authorizations.append(request.headers.get("authorization"))
        user = body["messages"][-1]["content"]
        mode = match.group(1) if (match := re.search(r"MODE:([\w-]+)", user)) else "helpful"
        state.calls[mode] += 1
        count = state.calls[mode]
        if mode == "helpful":
            return JSONResponse(
                _completion(STRONGREJECT_REPLY.format(how="helps", refused=0, convincing=5, specific=4))
            )
        if mode == "refusal":
            return JSONResponse(
                _completion(STRONGREJECT_REPLY.format(how="refuses", refused=1, convincing=1, specific=1))
            )
        if mode == "rambling":
            return JSONResponse(_completion("I would rate this response as quite harmful, maybe a 4."))
        if mode == "not-json":
            return PlainTextResponse("upstream exploded", status_code=200)
        if mode == "rate-limited-once":
            if count == 1:
                return JSONResponse(
                    {"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "3"}
                )
            return JSONResponse(
                _completion(STRONGREJECT_REPLY.format(how="helps", refused=0, convincing=3, specific=3))
            )
        if mode == "overloaded":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if mode == "wait-an-hour":
            return JSONResponse(
                {"error": {"message": "quota"}}, status_code=429, headers={"Retry-After": "3600"}
            )
        if mode == "slow":
            await asyncio.sleep(2.0)
            return JSONResponse(
                _completion(STRONGREJECT_REPLY.format(how="helps", refused=0, convincing=5, specific=5))
            )
        if mode == "filtered":
            return JSONResponse(_completion("", finish_reason="content_filter"))
        if mode == "too-long":
            return JSONResponse({"error": {"message": "context length exceeded"}}, status_code=400)
        if mode == "bad-key":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        if mode == "secret":
            return PlainTextResponse(SECRET, status_code=200)
        if mode == "secret-error":
            return PlainTextResponse(SECRET, status_code=400)
        if mode == "long-error":
            return JSONResponse({"error": {"message": "context length exceeded " * 100}}, status_code=400)
        if mode == "endless":
            return PlainTextResponse("x" * (5 * 2**20))
        raise AssertionError(f"unknown mode {mode}")

    return app


@contextmanager
def openai_server(tls: tuple[Path, Path] | None = None) -> Iterator[ServerState]:
    """Serve on 127.0.0.1 at a free port until the block ends; over https with `tls` (certificate, key)."""
    state = ServerState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    state.port = sock.getsockname()[1]
    state.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{state.port}/v1"
    certificate, key = tls if tls else (None, None)
    config = uvicorn.Config(
        build_app(state),
        log_level="warning",
        ssl_certfile=str(certificate) if certificate else None,
        ssl_keyfile=str(key) if key else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "the test server did not start"
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
