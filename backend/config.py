"""One Settings object for the API, the workers and the CLIs; every field reads SEEDSCOPE_<NAME>."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEEDSCOPE_", extra="ignore")

    # Everything the embedded default writes (SQLite files, adapters, the prepared model) lives here.
    home: Path = Path(".seedscope")
    # Unset means the embedded default under `home`: SQLite for both, kombu's SQLAlchemy transport as broker.
    database_url: str | None = None
    broker_url: str | None = None
    # Redis only: how long a delivered, unacknowledged message stays hidden before Redis hands it out again.
    # It only needs to cover a delivery: the lease, not the broker, keeps a run from running twice, and a
    # message handed out again while its run is leased (or finished) is dropped by the worker that gets it.
    broker_visibility_timeout_s: int = 600
    # Where `seedscope submit` and the demo find the API.
    api_url: str = "http://127.0.0.1:8000"

    # --- workers: leases and reconciliation (README, "Workers") -----------------------------------
    # A worker holds a run for this long unless it renews the lease, which it does every quarter of it.
    lease_s: float = 120.0
    # How often every worker looks for stranded runs (expired leases, lost messages) and queues them again.
    sweep_interval_s: float = 60.0
    # A queued run no worker has claimed for this long is stranded if the workers are idle or have taken
    # work queued after it (its message was lost); until then it is waiting its turn.
    queued_stranded_after_s: float = 120.0
    # Workers that took a run and stopped without finishing it (killed, out of memory) before it is failed.
    run_max_attempts: int = 3
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
    # 0 lets torch decide; the embedded default on a laptop runs one worker using all cores.
    torch_threads: int = 0

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'seedscope.sqlite').resolve()}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.home / 'broker.sqlite').resolve()}"

    @property
    def artifacts_dir(self) -> Path:
        """Fine-tuned adapters, one folder per run."""
        return self.home / "artifacts"

    @property
    def model_cache_dir(self) -> Path:
        """Converted and prepared base models (the embedded aligned base)."""
        return self.home / "models"

    def ensure_dirs(self) -> None:
        for path in (self.home, self.artifacts_dir, self.model_cache_dir):
            path.mkdir(parents=True, exist_ok=True)
