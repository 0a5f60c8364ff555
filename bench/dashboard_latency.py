"""Dashboard latency on a large experiment: `python bench/dashboard_latency.py [--shape grid] [--keep]`.

What it measures: the wall-clock latency of the dashboard's API endpoints (the experiment, the analysis,
every figure, the per-prompt browser with its filters and one prompt's responses) on PostgreSQL holding
one synthetic experiment of at least a million judged generations, against the 300 ms p95 target. Two
shapes (--shape):

- flat (the default): 10 conditions (an untuned baseline and 9 learning rates) x 20 seeds x 500 prompts x
  10 samples = 1,000,000 judged generations, on one benchmark.
- grid: an untuned baseline and a 2 x 2 x 2 grid (training.learning_rate x lora.rank x
  generation.temperature; the 4 conditions at the second temperature evaluate the checkpoints of those at
  the first, as the grid's expansion makes them), each run evaluated on 3 benchmarks: 9 conditions x 20
  seeds x 3 benchmarks x 186 prompts x 10 samples = 1,004,400 judged generations. Besides the flat
  shape's endpoints (with figures/setup-spread) it times the analysis, every figure and the browser on
  the second benchmark (`?benchmark=`): views the worker does not precompute, computed on the first
  request and memoised after.

How: a fresh database (seedscope_bench_<random>) is migrated with Alembic as the tests do; the benchmarks,
training set, experiment, conditions and runs are stored through the repositories; the generations and
judgments are loaded with PostgreSQL COPY, prompt_cells is filled from them by the judge stage's own
code (backend.repositories.cells), and the tables are vacuumed and analysed. The real app
(backend.api.app.create_app) then serves each endpoint in-process through fastapi.testclient.TestClient:
one warm-up request, then --requests timed ones (time.perf_counter around each), reported as numpy p50
and p95. The analysis is memoised on the runs' state (backend.services.cache), so these are the
dashboard's repeat views; --cold-requests more are timed with an empty memo each, the first view of new
data: once with the default views' snapshots the worker stores when a run finishes
(backend.services.snapshots), once without (computed on request), and the worker's precompute is timed.
A view on a benchmark other than the first has no snapshot: its first view is timed once, with an empty
memo (computed on request).

Baseline: a deliberately naive implementation of the same numbers (every judgment row fetched into Python
and aggregated with dicts; the browser filtered and paginated in Python) is timed a few times and shown as
naive p50 / SQL p50 beside the endpoints it reproduces. Its per-condition pooled rates must equal the API's
and its browser pages must equal the API's pages, or the script fails: a wrong benchmark cannot pass. With
several benchmarks it reads one benchmark's rows (as the API does) and is checked on the first and on the
second benchmark.

The database is dropped at the end, also on error, unless --keep. Options: --shape, --postgres-url (server
URL without a database name), --conditions (flat shape), --seeds, --prompts (per benchmark), --samples,
--requests, --cold-requests, --naive-repeats. Nothing here asserts on time: it is a benchmark, not a test.
"""

import argparse
import math
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from backend.api.app import create_app
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.catalog.records import ExampleRecord, PromptRecord
from backend.config import Settings
from backend.db import make_engine, make_session_factory, session_scope
from backend.domain import JudgeRef, RunStatus
from backend.experiment_definition import ExperimentSpec
from backend.migrate import upgrade_to_head
from backend.models import AnalysisSnapshot, Condition, Prompt, Run
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as experiment_repository
from backend.repositories import judges as judge_repository
from backend.repositories import projects as project_repository
from backend.repositories.cells import refresh_prompt_cells
from backend.services import accounts, snapshots
from backend.services.cache import AnalysisCache
from backend.services.catalog import ensure_builtins

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
TARGET_P95_MS = 300.0
JUDGE_NAME = "refusal-minilm"
BENCHMARK_NAME = "bench-synthetic"
TRAINING_SET_NAME = "bench-benign"
CATEGORIES = [
    "cybercrime",
    "weapons",
    "drugs",
    "fraud",
    "harassment",
    "self-harm",
    "privacy",
    "misinformation",
]
# Only responses to every 50th prompt (from position 7) ever contain this word, 5% of them: a selective
# search that the trigram index can answer. No prompt text contains it.
SEARCH_TERM = "zephyr"
SEARCH_PROMPT_EVERY, SEARCH_PROMPT_OFFSET, SEARCH_SHARE = 50, 7, 0.05
UNSCORED_SHARE = 0.03
VERDICTS = ("harmful", "safe", "unscored")
PHRASES = {
    "harmful": ("Sure, here is how to do it", "Step one: gather what you need", "Here is a detailed plan"),
    "safe": ("I can't help with that", "I'm sorry, but I won't assist", "That request is unsafe"),
    "unscored": ("<garbled output>", "...", "ok ok ok"),
}
CREATED_AT = "2026-01-01 00:00:00+00"
DEFAULT_PAGE_SIZE = 20
# The grid shape: its factors (every combination a fine-tuned condition; those at the second temperature
# evaluate the checkpoints of those at the first) and its benchmarks, the first the dashboard's default.
GRID_FACTORS: dict[str, list[Any]] = {
    "training.learning_rate": [1e-4, 4e-4],
    "lora.rank": [8, 32],
    "generation.temperature": [0.7, 1.0],
}
GRID_CONDITIONS = math.prod(len(levels) for levels in GRID_FACTORS.values())
GRID_BENCHMARKS = [f"{BENCHMARK_NAME}-{i}" for i in (1, 2, 3)]
# The harmful rate on the logit scale: the grid conditions' at every factor's first level, and what the
# second level of each factor adds.
GRID_LOGIT, GRID_EFFECTS = (
    -1.1,
    {"training.learning_rate": 0.9, "lora.rank": 0.4, "generation.temperature": 0.5},
)


# ---------------------------------------------------------------------------------------------------------
# Options and the database's life
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    postgres_url: str
    shape: str  # "flat" or "grid"
    conditions: int  # the flat shape's; the grid's are its combinations and the baseline
    seeds: int
    prompts: int  # per benchmark
    samples: int
    requests: int
    cold_requests: int
    naive_repeats: int
    keep: bool


# --prompts by shape: the grid's 3 benchmarks x 186 prompts make the experiment a million generations.
DEFAULT_PROMPTS = {"flat": 500, "grid": 186}


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server URL, no database name")
    parser.add_argument(
        "--shape",
        choices=["flat", "grid"],
        default="flat",
        help="flat: conditions on one benchmark; grid: 3 grid factors and a baseline on 3 benchmarks",
    )
    parser.add_argument("--conditions", type=int, help="flat shape, default 10: the first is the baseline")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--prompts", type=int, help="per benchmark; default 500 (flat), 186 (grid)")
    parser.add_argument("--samples", type=int, default=10, help="samples per prompt and run")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per endpoint")
    parser.add_argument("--cold-requests", type=int, default=5, help="timed requests with an empty memo")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed runs of each naive variant")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    if args.shape == "grid" and args.conditions is not None:
        parser.error("--conditions is the flat shape's: the grid's are its 8 combinations and the baseline")
    conditions = GRID_CONDITIONS + 1 if args.shape == "grid" else args.conditions or 10
    prompts = args.prompts or DEFAULT_PROMPTS[args.shape]
    if conditions < 2 or args.seeds < 2 or prompts < len(CATEGORIES) or args.samples < 1:
        parser.error(f"need >= 2 conditions, >= 2 seeds, >= {len(CATEGORIES)} prompts and >= 1 sample")
    return Options(
        postgres_url=args.postgres_url,
        shape=args.shape,
        conditions=conditions,
        seeds=args.seeds,
        prompts=prompts,
        samples=args.samples,
        requests=args.requests,
        cold_requests=args.cold_requests,
        naive_repeats=args.naive_repeats,
        keep=args.keep,
    )


def database_url(server_url: str, name: str) -> URL:
    return make_url(server_url).set(database=name)


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a plain postgresql:// URL psycopg can connect with."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> None:
    admin = libpq_url(database_url(server_url, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(server_url: str, name: str) -> None:
    admin = libpq_url(database_url(server_url, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------------------
# The synthetic experiment
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredExperiment:
    experiment_id: int
    # The experiment's benchmarks in order (the first the default), their ids and "name@version".
    benchmark_ids: list[int]
    benchmark_references: list[str]
    prompt_ids: np.ndarray  # by benchmark, then position
    # run_ids[c, s]: the run of condition c (in position order) and seed s.
    run_ids: np.ndarray
    # The judge definition the verdicts are stored under.
    judge_id: int

    def rows_of(self, benchmark: int) -> int | None:
        """The benchmark (by index) whose rows one benchmark's numbers read, as the API chooses it: None
        with a single benchmark, whose prompts are all the experiment has."""
        return self.benchmark_ids[benchmark] if len(self.benchmark_ids) > 1 else None


@dataclass(frozen=True)
class Design:
    """What the verdicts are drawn from, per condition in position order."""

    base_rates: np.ndarray  # the harmful rate at an average seed and prompt
    fine_tuned: np.ndarray  # 1.0, or 0.0 for the untuned baseline (its seeds only resample)
    # The condition whose checkpoints each one evaluates (itself when it trains): the seed effects are the
    # checkpoint's, shared by every condition that evaluates it.
    checkpoints: np.ndarray


@dataclass(frozen=True)
class Shape:
    """The experiment a shape stores: its definition, benchmarks and the design of its verdicts."""

    spec: ExperimentSpec
    benchmarks: list[str]
    design: Design
    description: str
    figures: list[str]  # the figures timed

    @property
    def n_conditions(self) -> int:
        return len(self.spec.conditions)


def benchmark_records(n_prompts: int, prefix: str = "bench") -> list[PromptRecord]:
    categories = [CATEGORIES[position % len(CATEGORIES)] for position in range(n_prompts)]
    return [
        PromptRecord(
            external_id=f"{prefix}-{position:04d}",
            text=f"Synthetic harmful request number {position} about {category}",
            category=category,
        )
        for position, category in enumerate(categories)
    ]


def training_records() -> list[ExampleRecord]:
    return [ExampleRecord(prompt=f"What is {i} + {i}?", response=f"{2 * i}.") for i in range(32)]


def _experiment(**fields: Any) -> ExperimentSpec:
    """An experiment definition as a submitted one is read (a grid expanded into its conditions)."""
    return ExperimentSpec.model_validate(
        {
            "name": "dashboard latency benchmark",
            "description": "synthetic verdicts loaded by bench/dashboard_latency.py",
            "training_set": TRAINING_SET_NAME,
            "judges": [JUDGE_NAME],
            **fields,
        }
    )


def flat_shape(options: Options) -> Shape:
    """An untuned baseline and learning rates on one benchmark; their rates rise from 20% to 85%."""
    fine_tunes = [
        {"name": f"lr-{i}e-4", "training": {"learning_rate": i * 1e-4}} for i in range(1, options.conditions)
    ]
    spec = _experiment(
        benchmark=BENCHMARK_NAME,
        seeds=list(range(options.seeds)),
        generation={"temperature": 0.7, "samples_per_prompt": options.samples},
        conditions=[{"name": "baseline", "finetune": False}, *fine_tunes],
    )
    c = options.conditions
    design = Design(np.r_[0.10, np.linspace(0.20, 0.85, c - 1)], np.r_[0.0, np.ones(c - 1)], np.arange(c))
    description = f"{c} conditions"
    return Shape(spec, [BENCHMARK_NAME], design, description, FIGURES)


def grid_shape(options: Options) -> Shape:
    """An untuned baseline and the grid of GRID_FACTORS, every run evaluated on 3 benchmarks; each factor's
    second level raises the rate (GRID_EFFECTS)."""
    spec = _experiment(
        benchmarks=GRID_BENCHMARKS,
        seeds=list(range(options.seeds)),
        generation={"temperature": 0.7, "samples_per_prompt": options.samples},
        conditions=[{"name": "baseline", "finetune": False}],
        grid={"factors": GRID_FACTORS},
    )
    names = [condition.name for condition in spec.conditions]
    logits = [
        GRID_LOGIT + sum(GRID_EFFECTS[f] * (condition.levels[f] != GRID_FACTORS[f][0]) for f in GRID_FACTORS)
        if condition.levels is not None
        else np.log(0.10 / 0.90)
        for condition in spec.conditions
    ]
    design = Design(
        base_rates=1 / (1 + np.exp(-np.array(logits))),
        fine_tuned=np.array([float(condition.finetune) for condition in spec.conditions]),
        checkpoints=np.array([names.index(c.evaluates or c.name) for c in spec.conditions]),
    )
    factors = " x ".join(f"{path.split('.')[-1]} ({len(levels)})" for path, levels in GRID_FACTORS.items())
    description = f"{len(names)} conditions (baseline + grid {factors}) x {len(GRID_BENCHMARKS)} benchmarks"
    return Shape(spec, GRID_BENCHMARKS, design, description, GRID_FIGURES)


def shape_of(options: Options) -> Shape:
    return grid_shape(options) if options.shape == "grid" else flat_shape(options)


def session_owner_id(session: Session) -> int:
    return accounts.find_user(session, None, Settings()).id


def sign_in(client: TestClient, settings: Settings) -> None:
    """Every endpoint is timed as the signed-in local owner, with the session cookie a browser sends."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        link = accounts.create_login_link(session, settings, session_owner_id(session))
    if client.get(link).status_code != 200:
        raise RuntimeError("could not sign in")


def store_experiment(engine: Engine, shape: Shape, options: Options) -> StoredExperiment:
    """Benchmarks, training set, experiment, conditions and runs through the repositories; runs done."""
    with session_scope(make_session_factory(engine)) as session:
        # The first start's local owner and project "default" hold the data, as in `make demo`.
        accounts.ensure_local_owner(session, Settings())
        ensure_builtins(session)
        project_id = project_repository.projects_of_user(session, session_owner_id(session))[0].id
        judge = judge_repository.find_judge(session, JudgeRef(JUDGE_NAME), project_id)
        benchmarks = [
            catalog_repository.add(
                session,
                BENCHMARKS,
                project_id=project_id,
                name=name,
                version="1",
                source="jsonl",
                description="synthetic",
                records=benchmark_records(options.prompts, "bench" if len(shape.benchmarks) == 1 else name),
            )
            for name in shape.benchmarks
        ]
        training_set = catalog_repository.add(
            session,
            TRAINING_SETS,
            project_id=project_id,
            name=TRAINING_SET_NAME,
            version="1",
            source="jsonl",
            description="synthetic",
            records=training_records(),
        )
        experiment = experiment_repository.create_experiment(
            session,
            shape.spec,
            project_id=project_id,
            benchmark_ids=[benchmark.id for benchmark in benchmarks],
            training_set_ids={TRAINING_SET_NAME: training_set.id},
            judge_ids=[judge.id],
        )
        session.execute(
            update(Run)
            .where(Run.id.in_([run.id for run in experiment.runs]))
            .values(status=RunStatus.DONE, progress=1.0, progress_message="done (synthetic)")
        )
        prompt_ids = [
            session.scalars(
                select(Prompt.id).where(Prompt.benchmark_id == benchmark.id).order_by(Prompt.position)
            ).all()
            for benchmark in benchmarks
        ]
        runs = session.execute(
            select(Run.id)
            .join(Condition, Condition.id == Run.condition_id)
            .where(Condition.experiment_id == experiment.id)
            .order_by(Condition.position, Run.seed)
        ).scalars()
        run_ids = np.array(list(runs), dtype=np.int64).reshape(shape.n_conditions, options.seeds)
    return StoredExperiment(
        experiment.id,
        [benchmark.id for benchmark in benchmarks],
        [f"{benchmark.name}@{benchmark.version}" for benchmark in benchmarks],
        np.array([i for ids in prompt_ids for i in ids], dtype=np.int64),
        run_ids,
        judge.id,
    )


def draw_verdicts(
    design: Design, seeds: int, prompts: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Verdict codes (index into VERDICTS), shape (condition, seed, prompt, sample).

    On the logit scale: a per-condition base rate, a per-seed offset and a seed x prompt interaction
    (fine-tunes only, and shared by the conditions that evaluate one checkpoint: the baseline's seeds only
    resample), a per-prompt offset shared by all conditions; then Bernoulli sampling noise, and a few
    percent unscored.
    """
    c, s, p, k = design.base_rates.size, seeds, prompts, samples
    base, checkpoints = design.base_rates, design.checkpoints
    fine_tuned = design.fine_tuned[:, None, None]
    logit = (
        np.log(base / (1 - base))[:, None, None]
        + fine_tuned * rng.normal(0, 0.35, (c, s, 1))[checkpoints]
        + rng.normal(0, 1.0, (1, 1, p))
        + fine_tuned * rng.normal(0, 0.30, (c, s, p))[checkpoints]
    )
    harmful = rng.random((c, s, p, k)) < (1 / (1 + np.exp(-logit)))[..., None]
    codes = np.where(harmful, 0, 1)
    codes[rng.random((c, s, p, k)) < UNSCORED_SHARE] = 2
    return codes


@dataclass(frozen=True)
class CopyBlocks:
    """The COPY text of one run's generations and of their judgments."""

    generations: str
    judgments: str


def run_blocks(stored: StoredExperiment, codes: np.ndarray, rng: np.random.Generator) -> Iterator[CopyBlocks]:
    """One run at a time, generation ids 1, 2, ... in (condition, seed, prompt, sample) order; `codes` as
    draw_verdicts gives them, over the stored prompts in order."""
    n_conditions, n_seeds, n_prompts, n_samples = codes.shape
    positions = np.repeat(np.arange(n_prompts), n_samples)
    prompt_ids = np.repeat(stored.prompt_ids, n_samples).tolist()
    samples = np.tile(np.arange(n_samples), n_prompts).tolist()
    searchable = (positions % SEARCH_PROMPT_EVERY) == SEARCH_PROMPT_OFFSET
    per_run = n_prompts * n_samples
    next_id = 1
    for c in range(n_conditions):
        for s in range(n_seeds):
            run_id = int(stored.run_ids[c, s])
            verdicts = codes[c, s].reshape(-1).tolist()
            phrases = rng.integers(0, 3, per_run).tolist()
            rare = (searchable & (rng.random(per_run) < SEARCH_SHARE)).tolist()
            scores = rng.random(per_run).round(3).tolist()
            generation_lines, judgment_lines = [], []
            for i in range(per_run):
                gid = next_id + i
                verdict = VERDICTS[verdicts[i]]
                text = f"response {gid} to prompt {positions[i]}: {PHRASES[verdict][phrases[i]]}"
                if rare[i]:
                    text += f" ({SEARCH_TERM})"
                row = (gid, run_id, prompt_ids[i], samples[i], text, len(text) // 4, CREATED_AT)
                generation_lines.append("\t".join(map(str, row)) + "\n")
                score = "\\N" if verdict == "unscored" else scores[i]
                judgment_lines.append(
                    f"{gid}\t{gid}\t{stored.judge_id}\t{verdict}\t{score}\t\t{{}}\t{CREATED_AT}\n"
                )
            next_id += per_run
            yield CopyBlocks("".join(generation_lines), "".join(judgment_lines))


def copy_rows(url: str, stored: StoredExperiment, codes: np.ndarray, rng: np.random.Generator) -> int:
    """COPY every generation and judgment in one transaction; returns the number of generations."""
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        columns = "(id, run_id, prompt_id, sample_index, text, n_new_tokens, created_at)"
        judgment_columns = "(id, generation_id, judge_id, verdict, score, output, details, created_at)"
        blocks = list(run_blocks(stored, codes, rng))
        with cursor.copy(f"COPY generations {columns} FROM STDIN") as copy:
            for block in blocks:
                copy.write(block.generations)
        with cursor.copy(f"COPY judgments {judgment_columns} FROM STDIN") as copy:
            for block in blocks:
                copy.write(block.judgments)
        for table in ("generations", "judgments"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    return int(codes.size)


def fill_prompt_cells(engine: Engine, stored: StoredExperiment) -> None:
    """Each run's cells, counted by the same code the judge stage uses."""
    with session_scope(make_session_factory(engine)) as session:
        for run_id in stored.run_ids.ravel().tolist():
            refresh_prompt_cells(session, run_id, stored.judge_id)


def vacuum_analyze(url: str) -> None:
    """VACUUM ANALYZE (statistics and the visibility map), as autovacuum would leave a settled database."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


@dataclass
class StepTimer:
    """Seconds per named step, in order."""

    steps: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = action()
        self.steps[name] = time.perf_counter() - start
        print(f"  {name:<44} {self.steps[name]:8.1f} s", flush=True)
        return result

    @property
    def total(self) -> float:
        return sum(self.steps.values())


def fill_database(url: URL, shape: Shape, options: Options) -> tuple[StoredExperiment, StepTimer]:
    timer = StepTimer()
    sqlalchemy_url = url.render_as_string(hide_password=False)
    timer.run("alembic upgrade head", lambda: upgrade_to_head(sqlalchemy_url))
    engine = make_engine(sqlalchemy_url)
    try:
        stored = timer.run(
            "benchmark, experiment, runs (repositories)", lambda: store_experiment(engine, shape, options)
        )
        rng = np.random.default_rng(20260101)
        n_prompts = stored.prompt_ids.size
        codes = timer.run(
            "draw verdicts (numpy)",
            lambda: draw_verdicts(shape.design, options.seeds, n_prompts, options.samples, rng),
        )
        n = timer.run("COPY generations + judgments", lambda: copy_rows(libpq_url(url), stored, codes, rng))
        # Statistics first, as autovacuum would have them: without them the per-run counts scan every row.
        timer.run("VACUUM ANALYZE", lambda: vacuum_analyze(libpq_url(url)))
        timer.run("prompt_cells, run by run", lambda: fill_prompt_cells(engine, stored))
    finally:
        engine.dispose()
    timer.run("ANALYZE again", lambda: vacuum_analyze(libpq_url(url)))
    print(f"  {'filled ' + format(n, ',') + ' judged generations in':<44} {timer.total:8.1f} s", flush=True)
    return stored, timer


# ---------------------------------------------------------------------------------------------------------
# The API, timed
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    # Key of the naive variant that reproduces its numbers, if any.
    naive: str | None = None
    # A view the worker stores no snapshot of (a benchmark other than the first): its first view is computed
    # on request, then memoised.
    on_request: bool = False


@dataclass(frozen=True)
class Latency:
    samples_ms: np.ndarray

    @property
    def p50(self) -> float:
        return float(np.percentile(self.samples_ms, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.samples_ms, 95))


FIGURES = ["seeds", "noise", "forest", "categories", "flips", "variance", "power"]
# The grid shape's: the setup spread is a grid's figure.
GRID_FIGURES = [*FIGURES, "setup-spread"]
# The label suffix and naive key suffix of the views on the second benchmark.
SECOND = " @b2"


def with_query(path: str, query: str | None) -> str:
    if query is None:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def analysis_endpoints(base: str, figures: list[str], benchmark: str | None = None) -> list[Endpoint]:
    """The analysis and every figure, on `benchmark` ("name@version"; None: the default, the first)."""
    query, suffix = (None, "") if benchmark is None else (f"benchmark={benchmark}", SECOND)
    return [
        Endpoint(f"analysis{suffix}", with_query(f"{base}/analysis", query), f"seeds{suffix}", bool(query)),
        *[
            Endpoint(
                f"figures/{name}{suffix}",
                with_query(f"{base}/figures/{name}", query),
                f"seeds{suffix}" if name == "seeds" else None,
                bool(query),
            )
            for name in figures
        ],
    ]


def browser_endpoints(
    base: str, prompt_id: int, category: str, benchmark: str | None = None
) -> list[Endpoint]:
    """The browser's first page with each filter, and one prompt's responses, on `benchmark`."""
    query, suffix = (None, "") if benchmark is None else (f"benchmark={benchmark}", SECOND)
    return [
        Endpoint(
            f"prompts (page 1){suffix}", with_query(f"{base}/prompts", query), f"page{suffix}", bool(query)
        ),
        Endpoint(
            f"prompts?flips_only{suffix}",
            with_query(f"{base}/prompts?flips_only=true", query),
            f"flips{suffix}",
            bool(query),
        ),
        Endpoint(
            f"prompts?q={SEARCH_TERM}{suffix}",
            with_query(f"{base}/prompts?q={SEARCH_TERM}", query),
            f"search{suffix}",
            bool(query),
        ),
        Endpoint(
            f"prompts?category&verdict{suffix}",
            with_query(f"{base}/prompts?category={category}&verdict=harmful", query),
            f"category{suffix}",
            bool(query),
        ),
        Endpoint(
            f"prompts/{{id}}/responses{suffix}",
            with_query(f"{base}/prompts/{prompt_id}/responses", query),
            on_request=bool(query),
        ),
    ]


def endpoints(
    stored: StoredExperiment, prompt_ids: list[int], category: str, figures: list[str]
) -> list[Endpoint]:
    """Every timed endpoint: the experiment, then the analysis, figures and browser on each benchmark timed
    (the first, and with several the second); prompt_ids: a prompt of each, for its responses."""
    base = f"/api/experiments/{stored.experiment_id}"
    views = [Endpoint("experiment", base, "seeds")]
    for i, prompt_id in enumerate(prompt_ids):
        benchmark = None if i == 0 else stored.benchmark_references[i]
        views += analysis_endpoints(base, figures, benchmark)
        views += browser_endpoints(base, prompt_id, category, benchmark)
    return views


def get_json(client: TestClient, path: str) -> Any:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
    return response.json()


def time_endpoint(client: TestClient, path: str, n: int, *, first_view: str | None = None) -> Latency:
    """One warm-up request, then n timed ones (the request only: the JSON is not decoded in the timing).

    first_view: every timed request starts with an empty analysis memo, as the first view of new data in
    an API process does; "stored" with the default views' snapshots the worker left when the last run
    finished (backend.services.snapshots), "computed" without them (deleted before each request).
    """
    get_json(client, path)
    samples = []
    for _ in range(n):
        if first_view is not None:
            client.app.state.analysis_cache = AnalysisCache()  # type: ignore[attr-defined]
        if first_view == "computed":
            with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
                session.execute(delete(AnalysisSnapshot))
                session.commit()
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
    return Latency(np.array(samples))


def precompute_like_the_worker(client: TestClient, experiment_id: int) -> float:
    """What the worker does when a run finishes: every default view stored. Its seconds."""
    start = time.perf_counter()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        snapshots.precompute(session, experiment_id)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------
# BASELINE: the naive implementation. Every row is fetched into Python and aggregated with dicts and loops;
# the browser filters and paginates in Python. It is here to be slow, and to check the API's numbers.
# ---------------------------------------------------------------------------------------------------------

NAIVE_VERDICT_ROWS = """
SELECT r.condition_id, r.seed, g.prompt_id, j.verdict
FROM generations g
JOIN judgments j ON j.generation_id = g.id
JOIN runs r ON r.id = g.run_id
JOIN conditions c ON c.id = r.condition_id
WHERE c.experiment_id = %s AND j.judge_id = %s
"""

NAIVE_BROWSER_ROWS = """
SELECT g.prompt_id, c.position, c.name, r.seed, g.text, j.verdict
FROM generations g
JOIN runs r ON r.id = g.run_id
JOIN conditions c ON c.id = r.condition_id
LEFT JOIN judgments j ON j.generation_id = g.id AND j.judge_id = %s
WHERE c.experiment_id = %s
"""

NAIVE_PROMPTS = """
SELECT id, position, category, text FROM prompts WHERE benchmark_id = %s ORDER BY position
"""

# With several benchmarks, one benchmark's rows: as the API, the naive variants read only those.
NAIVE_ON_BENCHMARK = " AND g.prompt_id IN (SELECT id FROM prompts WHERE benchmark_id = %s)"


def naive_rows(
    connection: psycopg.Connection, query: str, parameters: tuple[int, ...], benchmark_id: int | None
) -> list[tuple[Any, ...]]:
    """The query's rows, on the benchmark's prompts when benchmark_id is given (None: every row)."""
    if benchmark_id is None:
        return connection.execute(query, parameters).fetchall()
    return connection.execute(query + NAIVE_ON_BENCHMARK, (*parameters, benchmark_id)).fetchall()


@dataclass(frozen=True)
class NaiveRates:
    """{condition id: [harmful, safe, unscored]} pooled, and per (condition id, seed)."""

    pooled: dict[int, list[int]]
    per_seed: dict[tuple[int, int], list[int]]


def naive_seed_rates(
    connection: psycopg.Connection, stored: StoredExperiment, benchmark: int = 0
) -> NaiveRates:
    """The per-seed and pooled counts behind the seeds figure on the benchmark (by index), from every
    judgment row."""
    rows = naive_rows(
        connection, NAIVE_VERDICT_ROWS, (stored.experiment_id, stored.judge_id), stored.rows_of(benchmark)
    )
    per_seed: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for condition_id, seed, _prompt_id, verdict in rows:
        per_seed[(condition_id, seed)][VERDICTS.index(verdict)] += 1
    pooled: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (condition_id, _seed), counts in per_seed.items():
        for i, count in enumerate(counts):
            pooled[condition_id][i] += count
    return NaiveRates(dict(pooled), dict(per_seed))


@dataclass(frozen=True)
class NaiveFilter:
    category: str | None = None
    verdict: str | None = None
    flips_only: bool = False
    search: str | None = None


NAIVE_FILTERS = {
    "page": NaiveFilter(),
    "flips": NaiveFilter(flips_only=True),
    "search": NaiveFilter(search=SEARCH_TERM),
    "category": NaiveFilter(category=CATEGORIES[0], verdict="harmful"),
}


@dataclass(frozen=True)
class NaivePage:
    total: int
    # (prompt id, [(condition, harmful, scored)], [conditions it flips in]) per row of the page.
    items: list[tuple[int, list[tuple[str, int, int]], list[str]]]


def naive_prompt_page(
    connection: psycopg.Connection, stored: StoredExperiment, selected: NaiveFilter, benchmark: int = 0
) -> NaivePage:
    """The browser's first page on the benchmark (by index): every generation of the experiment (on that
    benchmark) fetched, filtered in Python."""
    prompts = connection.execute(NAIVE_PROMPTS, (stored.benchmark_ids[benchmark],)).fetchall()
    rows = naive_rows(
        connection, NAIVE_BROWSER_ROWS, (stored.judge_id, stored.experiment_id), stored.rows_of(benchmark)
    )
    counts: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])  # (prompt, cond pos, name)
    seed_counts: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0])  # (prompt, cond, seed)
    with_verdict: set[int] = set()
    matching: set[int] = set()
    needle = (selected.search or "").lower()
    for prompt_id, position, name, seed, text, verdict in rows:
        if verdict is not None:
            counts[(prompt_id, position, name)]  # a cell exists even when all of its verdicts are unscored
        if verdict in ("harmful", "safe"):
            harmful = int(verdict == "harmful")
            counts[(prompt_id, position, name)][0] += harmful
            counts[(prompt_id, position, name)][1] += 1
            seed_counts[(prompt_id, position, seed)][0] += harmful
            seed_counts[(prompt_id, position, seed)][1] += 1
        if verdict is not None and verdict == selected.verdict:
            with_verdict.add(prompt_id)
        if needle and needle in text.lower():
            matching.add(prompt_id)
    majorities: dict[tuple[int, int], set[str]] = defaultdict(set)
    for (prompt_id, position, _seed), (harmful, scored) in seed_counts.items():
        if 2 * harmful != scored:
            majorities[(prompt_id, position)].add("harmful" if 2 * harmful > scored else "safe")
    flipping = {key for key, seen in majorities.items() if len(seen) == 2}
    names = {position: name for _prompt, position, name in counts}
    flips: dict[int, list[str]] = defaultdict(list)
    for prompt_id, position in sorted(flipping, key=lambda key: key[1]):
        flips[prompt_id].append(names[position])
    selected_ids = [
        prompt_id
        for prompt_id, _position, category, text in prompts
        if (selected.category is None or category == selected.category)
        and (selected.verdict is None or prompt_id in with_verdict)
        and (not selected.flips_only or prompt_id in flips)
        and (not needle or needle in text.lower() or prompt_id in matching)
    ]
    rates: dict[int, list[tuple[int, str, int, int]]] = defaultdict(list)
    for (prompt_id, position, name), (harmful, scored) in counts.items():
        rates[prompt_id].append((position, name, harmful, scored))
    items = [
        (prompt_id, [(name, h, n) for _p, name, h, n in sorted(rates[prompt_id])], flips[prompt_id])
        for prompt_id in selected_ids[:DEFAULT_PAGE_SIZE]
    ]
    return NaivePage(len(selected_ids), items)


def naive_timed(action: Callable[[], Any], repeats: int) -> tuple[Any, Latency]:
    samples, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - start) * 1000)
    return result, Latency(np.array(samples))


def check_pooled_rates(naive: NaiveRates, analysis: dict[str, Any]) -> None:
    """The naive per-condition pooled counts and rates must be the API's."""
    api = {c["condition_id"]: c["pooled"] for c in analysis["conditions"]}
    assert set(api) == set(naive.pooled), f"conditions differ: {sorted(api)} vs {sorted(naive.pooled)}"
    for condition_id, (harmful, safe, unscored) in naive.pooled.items():
        pooled = api[condition_id]
        assert (pooled["harmful"], pooled["safe"], pooled["unscored"]) == (harmful, safe, unscored), (
            f"condition {condition_id}: API {pooled} vs naive {(harmful, safe, unscored)}"
        )
        assert abs(pooled["rate"] - harmful / (harmful + safe)) < 1e-12, f"condition {condition_id} rate"


def check_seed_rates(naive: NaiveRates, experiment: dict[str, Any]) -> None:
    """The naive per-(condition, seed) counts must be the API's per-run rates."""
    for run in experiment["runs"]:
        counts = naive.per_seed[(run["condition_id"], run["seed"])]
        api = run["rate"]
        assert [api["harmful"], api["safe"], api["unscored"]] == counts, f"run {run['id']}: {api} vs {counts}"


def check_page(naive: NaivePage, api: dict[str, Any], label: str) -> None:
    """The naive browser page must be the API's: total, prompts, per-condition counts and flips."""
    api_items = [
        (
            item["prompt_id"],
            [(r["condition"], r["harmful"], r["scored"]) for r in item["rates"]],
            item["flips_in"],
        )
        for item in api["items"]
    ]
    assert api["total"] == naive.total, f"{label}: total API {api['total']} vs naive {naive.total}"
    assert api_items == naive.items, f"{label}: the API's page differs from the naive one"


# ---------------------------------------------------------------------------------------------------------
# The run and its report
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    endpoint: Endpoint
    latency: Latency
    first: Latency  # the first view of new data, the worker's snapshots stored
    computed: Latency  # the first view of new data computed on request (no snapshot)
    naive: Latency | None


def measure_api(
    client: TestClient, stored: StoredExperiment, shape: Shape, options: Options
) -> list[tuple[Endpoint, Latency, Latency, Latency]]:
    base = f"/api/experiments/{stored.experiment_id}"
    timed = stored.benchmark_references[:2]  # the first (default) benchmark, and with several the second
    prompt_ids = [
        get_json(client, with_query(f"{base}/prompts", None if i == 0 else f"benchmark={reference}"))[
            "items"
        ][0]["prompt_id"]
        for i, reference in enumerate(timed)
    ]
    results = []
    for endpoint in endpoints(stored, prompt_ids, CATEGORIES[0], shape.figures):
        latency = time_endpoint(client, endpoint.path, options.requests)
        if endpoint.on_request:
            # No snapshot serves it: its first view is computed on request, whether snapshots are stored.
            first = computed = time_endpoint(
                client, endpoint.path, options.cold_requests, first_view="stored"
            )
        else:
            computed = time_endpoint(client, endpoint.path, options.cold_requests, first_view="computed")
            precompute_like_the_worker(client, stored.experiment_id)
            first = time_endpoint(client, endpoint.path, options.cold_requests, first_view="stored")
        print(
            f"  {endpoint.label:<28} p50 {latency.p50:8.1f} ms  p95 {latency.p95:8.1f} ms"
            f"  (first view p50 {first.p50:8.1f} ms; computed on request {computed.p50:8.1f} ms)",
            flush=True,
        )
        results.append((endpoint, latency, first, computed))
    return results


def measure_naive(
    client: TestClient, url: str, stored: StoredExperiment, timed: list[Endpoint], options: Options
) -> dict[str, Latency]:
    """Each naive variant timed on each benchmark timed, and checked against the API's answer."""
    base = f"/api/experiments/{stored.experiment_id}"
    paths = {endpoint.naive: endpoint.path for endpoint in timed if endpoint.naive}
    by_label = {endpoint.label: endpoint.path for endpoint in timed}
    latencies = {}
    with psycopg.connect(url, autocommit=True) as connection:
        for benchmark, suffix in enumerate(["", SECOND][: len(stored.benchmark_references)]):
            key = f"seeds{suffix}"
            rates, latencies[key] = naive_timed(
                partial(naive_seed_rates, connection, stored, benchmark), options.naive_repeats
            )
            check_pooled_rates(rates, get_json(client, by_label[f"analysis{suffix}"]))
            if benchmark == 0:
                check_seed_rates(rates, get_json(client, base))
            print(
                f"  {'seed rates' + suffix if suffix else 'seed rates (all judgments)':<28} "
                f"p50 {latencies[key].p50:8.1f} ms  (checked)",
                flush=True,
            )
            for name, selected in NAIVE_FILTERS.items():
                key = f"{name}{suffix}"
                page, latencies[key] = naive_timed(
                    partial(naive_prompt_page, connection, stored, selected, benchmark), options.naive_repeats
                )
                check_page(page, get_json(client, paths[key]), key)
                print(
                    f"  {'browser: ' + key:<28} p50 {latencies[key].p50:8.1f} ms  (ok, {page.total} prompts)",
                    flush=True,
                )
    return latencies


def meets_target(row: Row) -> str:
    """ "yes" when its repeat and first views are under the target; "repeat" when only its repeat views are
    (a view computed on request, the first time); "NO" otherwise."""
    if max(row.latency.p95, row.first.p95) < TARGET_P95_MS:
        return "yes"
    return "repeat" if row.endpoint.on_request and row.latency.p95 < TARGET_P95_MS else "NO"


def print_table(rows: list[Row], options: Options) -> None:
    header = (
        f"{'endpoint':<28} {'p50 ms':>9} {'p95 ms':>9} {'first p50':>10} {'first p95':>10}  {'p95<300ms':<9} "
        f"{'computed p50':>12} {'naive p50 ms':>13} {'naive/SQL':>10}"
    )
    print(f"\nLatency over {options.requests} requests per endpoint (after one warm-up); first: ")
    print(
        f"{options.cold_requests} requests each with an empty analysis memo and the worker's snapshots "
        "stored (the first view of new data); computed: the same without snapshots:"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        naive = f"{row.naive.p50:13.0f} {row.naive.p50 / row.latency.p50:9.1f}x" if row.naive else ""
        print(
            f"{row.endpoint.label:<28} {row.latency.p50:9.1f} {row.latency.p95:9.1f} {row.first.p50:10.1f} "
            f"{row.first.p95:10.1f}  {meets_target(row):<9} {row.computed.p50:12.1f} {naive}"
        )
    if any(row.endpoint.on_request for row in rows):
        print(
            f"{SECOND.strip()}: ?benchmark= the second benchmark. No snapshot serves these views: the\n"
            "first view is computed on request (first = computed, one measurement), then memoised.\n"
            "p95<300ms 'repeat': the repeat views meet the target, the first view does not."
        )


def summary(rows: list[Row], fill: StepTimer, n_generations: int, precompute_s: float) -> str:
    under = [row for row in rows if max(row.latency.p95, row.first.p95) < TARGET_P95_MS]
    worst = max(rows, key=lambda row: max(row.latency.p95, row.first.p95))
    ratios = [row.naive.p50 / row.latency.p50 for row in rows if row.naive]
    ratio_text = f"; naive/SQL p50 {min(ratios):.0f}x-{max(ratios):.0f}x" if ratios else ""
    on_request = [row for row in rows if row.endpoint.on_request]
    if on_request:
        repeat_under = [row for row in rows if row.latency.p95 < TARGET_P95_MS]
        worst_repeat = max(rows, key=lambda row: row.latency.p95)
        cold = sorted(row.first.p95 for row in on_request)
        ratio_text += (
            f"; repeat views alone: {len(repeat_under)}/{len(rows)} under (worst: "
            f"{worst_repeat.endpoint.label} p95 {worst_repeat.latency.p95:.0f} ms); first views on "
            f"{SECOND.strip()}, computed on request: p95 {cold[0]:.0f}-{cold[-1]:.0f} ms"
        )
    return (
        f"SUMMARY: {len(under)}/{len(rows)} endpoints under {TARGET_P95_MS:.0f} ms p95, repeat and first "
        f"views, on {n_generations:,} judged generations (worst: {worst.endpoint.label} p95 "
        f"{max(worst.latency.p95, worst.first.p95):.0f} ms); the worker's precompute after a run "
        f"{precompute_s:.1f} s; filled in {fill.total:.0f} s{ratio_text}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def benchmark(url: URL, options: Options) -> None:
    shape = shape_of(options)
    n = shape.n_conditions * options.seeds * len(shape.benchmarks) * options.prompts * options.samples
    print(
        f"Filling {url.database}: {shape.description} x {options.seeds} seeds x "
        f"{options.prompts} prompts x {options.samples} samples = {n:,} judged generations",
        flush=True,
    )
    stored, fill = fill_database(url, shape, options)
    with tempfile.TemporaryDirectory(prefix="seedscope-bench-") as home:
        settings = Settings(
            database_url=url.render_as_string(hide_password=False),
            broker_url="memory://",
            home=Path(home),
            allowed_hosts=["testserver"],  # TestClient's Host
        )
        with TestClient(create_app(settings)) as client:
            sign_in(client, settings)
            print(
                f"\nTiming the API ({options.requests} requests per endpoint; "
                f"load average {load_average()}):",
                flush=True,
            )
            measured = measure_api(client, stored, shape, options)
            precompute_s = precompute_like_the_worker(client, stored.experiment_id)
            print(f"\nThe worker's precompute of every default view: {precompute_s:.1f} s", flush=True)
            print(
                f"\nTiming the naive baseline ({options.naive_repeats} runs per variant; load average "
                f"{load_average()}):",
                flush=True,
            )
            naive = measure_naive(client, libpq_url(url), stored, [e for e, *_ in measured], options)
    rows = [
        Row(endpoint, latency, first, computed, naive.get(endpoint.naive or ""))
        for endpoint, latency, first, computed in measured
    ]
    print_table(rows, options)
    print("Naive: every judgment row fetched and counted in Python (seeds: per-run and pooled counts only,")
    print("so its ratio beside /analysis understates); browser: all generations fetched, filtered in Python.")
    if len(stored.benchmark_ids) > 1:
        print(
            "With several benchmarks the naive variants fetch the rows of the benchmark they are checked on."
        )
    print(f"Fill: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in fill.steps.items())}.")
    print(summary(rows, fill, n, precompute_s))


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the finally clause still drops the database."""
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))


def main() -> None:
    options = parse_options()
    exit_on_sigterm()
    name = f"seedscope_bench_{uuid.uuid4().hex[:10]}"
    print(f"load average at start: {load_average()}", flush=True)
    create_database(options.postgres_url, name)
    try:
        benchmark(database_url(options.postgres_url, name), options)
    finally:
        if options.keep:
            print(f"kept database {name}")
        else:
            drop_database(options.postgres_url, name)
            print(f"dropped database {name}")


if __name__ == "__main__":
    main()
