"""One Settings object for the API, the workers and the CLIs; every field reads SEEDSCOPE_<NAME>."""

from functools import cached_property
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEEDSCOPE_", extra="ignore")

    # Everything the embedded default writes (SQLite files, adapters, the prepared model) lives here.
    home: Path = Path(".seedscope")
    # Unset means the embedded default under `home`: SQLite for both, kombu's SQLAlchemy transport as broker.
    database_url: str | None = None
    broker_url: str | None = None
    # Redis only: must exceed the longest job (see backend.queue).
    broker_visibility_timeout_s: int = 6 * 3600
    # Where `seedscope submit` and the demo find the API.
    api_url: str = "http://127.0.0.1:8000"
    # Prompts per forward pass when generating and judging.
    generation_batch_size: int = 16
    judge_batch_size: int = 32
    # Judges (their models) a worker process keeps loaded between runs; more is faster, and uses more memory.
    judges_kept: int = 2
    # Comma-separated URL prefixes of the endpoints LLM judges may call (https://api.example.com/v1,
    # http://10.0.0.7:8000). The worker sends an API key only to these; when set, it calls no other endpoint.
    judge_endpoints: str = ""
    # 0 lets torch decide; the embedded default on a laptop runs one worker using all cores.
    torch_threads: int = 0

    # --- signing in (README "Accounts, projects and share links") ---
    # The CLI's API token (`seedscope token create`), sent as `Authorization: Bearer`.
    token: str | None = None
    # The account the first start creates and owns everything with; it signs in by one-time link.
    local_owner_email: str = "owner@localhost"
    session_hours: float = 7 * 24
    login_link_minutes: float = 15
    # Failed password sign-ins allowed per account and per client address within the window.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_failure_window_minutes: float = 15
    # Single sign-on through a reverse proxy: the header carrying the signed-in user's email (e.g.
    # X-Forwarded-Email), trusted only on requests whose peer is one of `trusted_proxies`. Off when unset.
    sso_header: str | None = None
    # Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies: only from these are the SSO
    # header and X-Forwarded-For / X-Forwarded-Proto believed.
    trusted_proxies: str = ""

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
