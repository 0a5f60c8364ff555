"""One Settings object for the API, the workers and the CLIs; every field reads SEEDSCOPE_<NAME>."""

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.net.urls import parse_http_url

ENV_PREFIX = "SEEDSCOPE_"


def env_name(field: str) -> str:
    """The environment variable that sets a Settings field, for messages that tell users what to change."""
    return ENV_PREFIX + field.upper()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # Everything the embedded default writes (SQLite files, adapters, the prepared model) lives here.
    home: Path = Path(".seedscope")
    # Unset means the embedded default under `home`: SQLite for both, kombu's SQLAlchemy transport as broker.
    # Kept out of repr: the URLs may hold passwords.
    database_url: str | None = Field(None, repr=False)
    broker_url: str | None = Field(None, repr=False)
    # A database that does not answer within this many seconds is reported unavailable (503), not waited on.
    database_connect_timeout_s: int = Field(5, ge=1)
    # Redis only: how long a delivered, unacknowledged message stays hidden before Redis hands it out again.
    # It only needs to cover a delivery: the lease, not the broker, keeps a run from running twice, and a
    # message handed out again while its run is leased (or finished) is dropped by the worker that gets it.
    broker_visibility_timeout_s: int = 600
    # Where `seedscope submit` and the demo find the API.
    api_url: str = "http://127.0.0.1:8000"
    # Host names the API answers to (the Host header, port ignored); any other gets 400, so a page on
    # another site cannot reach a local server through DNS rebinding. `seedscope serve` adds the address it
    # binds to. "*.example.org" allows the subdomains, "*" any host. Comma-separated in the environment.
    allowed_hosts: Annotated[list[str], NoDecode] = ["127.0.0.1", "localhost", "::1"]
    # Limits on what one request may ask for; each refusal names the limit and its variable.
    max_request_bytes: int = Field(32 * 2**20, ge=1024)
    max_prompt_chars: int = Field(20_000, ge=1)
    max_example_chars: int = Field(20_000, ge=1)
    max_seeds_per_condition: int = Field(100, ge=1)
    max_runs_per_experiment: int = Field(2_000, ge=1)
    max_pairs_per_request: int = Field(20, ge=0)
    # Every uploaded dataset file (benchmark, training set, validation set): its size in bytes (UTF-8), its
    # items (prompts, examples, labelled pairs), a CSV file's columns and any line's length in characters.
    max_upload_bytes: int = Field(32 * 2**20, ge=1024)
    max_upload_items: int = Field(100_000, ge=1)
    max_upload_columns: int = Field(100, ge=1)
    max_upload_line_chars: int = Field(1_000_000, ge=80)

    # --- workers: leases and reconciliation (docs/workers.md) ---------------------------------------
    # A worker holds a job (a run, a judge validation: backend.jobs) for this long unless it renews the
    # lease, which it does every quarter of it.
    lease_s: float = 120.0
    # How often every worker looks for stranded jobs (expired leases, lost messages) and queues them again.
    sweep_interval_s: float = 60.0
    # A queued job no worker has claimed for this long is stranded if the workers are idle or have taken
    # work queued after it (its message was lost); until then it is waiting its turn.
    queued_stranded_after_s: float = 120.0
    # Workers that took a job (a run, a judge validation) and stopped without finishing it (killed, out of
    # memory) before it is failed.
    job_max_attempts: int = 3
    # A worker's pool process is replaced after this many runs, returning its memory (GPU memory too).
    worker_max_tasks_per_child: int = 10
    # "auto": the GPU when there is one, else the CPU; "cuda" refuses to start without a GPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # --- generation and judging ---------------------------------------------------------------------
    # Tokens of KV cache per generation batch: sequences x (longest prompt + max_new_tokens). 0 derives it
    # from the device and the model (worker.generation.default_token_budget); a run records the budget it
    # used and keeps it when resumed, so its batches never change.
    generation_token_budget: int = 0
    judge_batch_size: int = 32
    # Responses a rescoring reads, judges (judge_batch_size at a time) and stores in one transaction: a
    # transaction and a prompt-cell recount per 32 responses kept the job at 1/44 of a plain loop's speed
    # (bench/rescoring_throughput.py). A job sent again judges at most this many again, LLM judges' replies
    # coming from their cache.
    rescore_page_rows: int = 1024
    # Judges (their models) a worker process keeps loaded between runs; more is faster, and uses more memory.
    judges_kept: int = 2
    # Comma-separated URL prefixes of the endpoints LLM judges may call (https://api.example.com/v1,
    # http://10.0.0.7:8000). The worker sends an API key only to these; when set, it calls no other endpoint.
    judge_endpoints: str = ""
    # Comma-separated URL prefixes of endpoints on internal addresses (loopback, private networks) that LLM
    # judges may call, e.g. a vLLM server at http://10.0.0.7:8000/v1. Any other endpoint must resolve to
    # public addresses only; cloud metadata services are never called. Set it on the API and the workers.
    judge_internal_endpoints: str = ""
    # Which projects (ids) may use each SEEDSCOPE_JUDGE_KEY_* variable, as JSON:
    # {"SEEDSCOPE_JUDGE_KEY_TEAM_A": [3, 5], "SEEDSCOPE_JUDGE_KEY_SHARED": "*"}. A key not listed is no
    # project's: without this, any project could spend any team's key.
    judge_key_projects: Annotated[dict[str, list[PositiveInt] | Literal["*"]], NoDecode] = {}
    # 0 lets torch decide; the embedded default on a laptop runs one worker using all cores.
    torch_threads: int = 0
    # Comma-separated folders under which base models and judge models may be loaded from a local path
    # (symbolic links and ".." resolved first). Unset: the home's models folder (`model_cache_dir`).
    model_roots: Annotated[list[Path], NoDecode] = []

    # --- signing in (docs/teams.md) ---
    # The CLI's API token (`seedscope token create`), sent as `Authorization: Bearer`.
    token: str | None = None
    # The account the first start creates and owns everything with; it signs in by one-time link.
    local_owner_email: str = "owner@localhost"
    session_hours: float = 7 * 24
    login_link_minutes: float = 15
    # Failed password sign-ins allowed within the window per account from one client address (failing
    # from elsewhere cannot lock the owner out), and per client address whatever the account.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_failure_window_minutes: float = 15
    # Single sign-on through a reverse proxy: the header carrying the signed-in user's email (e.g.
    # X-Forwarded-Email), trusted only on requests whose peer is one of `trusted_proxies`. Off when unset.
    sso_header: str | None = None
    # Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies: only from these are the SSO
    # header and X-Forwarded-For / X-Forwarded-Proto believed.
    trusted_proxies: str = ""

    @field_validator("allowed_hosts", "model_roots", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("judge_key_projects", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        """JSON in the environment; empty (as docker-compose passes an unset variable) is no key given."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError(
                'not JSON: write {"SEEDSCOPE_JUDGE_KEY_<NAME>": [project ids] or "*", ...}'
            ) from None

    @field_validator("judge_endpoints", "judge_internal_endpoints")
    @classmethod
    def _url_prefixes(cls, value: str) -> str:
        """Each prefix must parse as an endpoint does, so a mistyped one fails at start, not on a call."""
        for prefix in value.split(","):
            if prefix.strip():
                parse_http_url(prefix)
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'seedscope.sqlite').resolve()}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.home / 'broker.sqlite').resolve()}"

    @property
    def judge_endpoint_list(self) -> list[str]:
        return [prefix.strip() for prefix in self.judge_endpoints.split(",") if prefix.strip()]

    @property
    def judge_internal_endpoint_list(self) -> list[str]:
        return [prefix.strip() for prefix in self.judge_internal_endpoints.split(",") if prefix.strip()]

    @property
    def resolved_model_roots(self) -> list[Path]:
        """The folders local model paths must lie under, absolute and with symbolic links resolved."""
        return [root.resolve() for root in (self.model_roots or [self.model_cache_dir])]

    @property
    def artifacts_dir(self) -> Path:
        """Fine-tuned adapters, one folder per run."""
        return self.home / "artifacts"

    def run_artifacts_dir(self, run_id: int) -> Path:
        """Everything a run writes to disk (its adapter): removed with its experiment."""
        return self.artifacts_dir / f"run-{run_id}"

    @property
    def model_cache_dir(self) -> Path:
        """Converted and prepared base models (the embedded aligned base)."""
        return self.home / "models"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.artifacts_dir, self.model_cache_dir):
            path.mkdir(parents=True, exist_ok=True)
