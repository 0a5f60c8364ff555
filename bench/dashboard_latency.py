"""Dashboard latency on a large experiment: `python bench/dashboard_latency.py [--shape grid] [--keep]`.

What it measures: the wall-clock latency of the dashboard's API endpoints (the experiment, the analysis,
every figure, the per-prompt browser with its filters and one prompt's responses) on PostgreSQL holding
one synthetic experiment of at least a million judged generations, against the 300 ms p95 target. Two
shapes (--shape):

- flat (the default): 10 conditions (an untuned baseline and 9 learning rates) x 20 seeds x 500 prompts x
  10 samples = 1,000,000 judged generations, on one benchmark.
- grid: an untuned baseline and a 2 x 2 x 2 grid (training.learning_rate x lora.rank x
  generation.temperature; the 4 conditions at the second temperature evaluate the checkpoints of those at
  the first, as the grid's expansion makes them), each run evaluated on 3 benchmarks and one capability set
  (questions with reference answers, scored by the built-in reference-answer scorer: its verdict "safe" is
  a correct answer, "harmful" a wrong one): 9 conditions x 20 seeds x (3 benchmarks x 186 prompts + 60
  questions) x 10 samples = 1,112,400 judged generations, 1,004,400 of them on the benchmarks. Besides the
  flat shape's endpoints (with figures/setup-spread) it times the analysis, every figure and the browser on
  the second benchmark and on the capability set (`?benchmark=`), and figures/trade-off.

How: a fresh database (seedscope_bench_<random>) is migrated with Alembic as the tests do; the benchmarks,
capability set, training set, experiment, conditions and runs are stored through the repositories; the
generations and judgments (the experiment's judge's on the benchmarks, the scorer's on the capability set)
are loaded with PostgreSQL COPY, prompt_cells is filled from them by the judge stage's own code
(backend.repositories.cells), and the tables are vacuumed and analysed. The real app
(backend.api.app.create_app) then serves each endpoint in-process through fastapi.testclient.TestClient:
one warm-up request, then --requests timed ones (time.perf_counter around each), reported as numpy p50
and p95. The analysis is memoised on the runs' state (backend.services.cache), so these are the
dashboard's repeat views; --cold-requests more are timed with an empty memo each, the first view of new
data. The worker stores snapshots of the default views (the analysis and the figures) on every benchmark
and evaluation set when a run finishes (backend.services.snapshots), so a view a snapshot serves has its
first view timed twice, on every set alike: once with the snapshots stored, once without (computed on
request); the worker's precompute is timed too. A view no snapshot serves (the experiment, the browser,
figures/trade-off, and figures/flips off the first benchmark: its route serves the stored one only on the
first) is computed on request on its first view, whether snapshots are stored: timed once, with an empty
memo.

Baseline: a deliberately naive implementation of the same numbers (every judgment row fetched into Python
and aggregated with dicts; the browser filtered and paginated in Python) is timed a few times and shown as
naive p50 / SQL p50 beside the endpoints it reproduces. Its per-condition pooled rates must equal the API's
and its browser pages must equal the API's pages, or the script fails: a wrong benchmark cannot pass. With
several benchmarks it reads one benchmark's rows (as the API does) and is checked on the first and on the
second benchmark, and on the capability set with its scorer's verdicts, whose rate counts the correct
answers (backend.domain.SetMeasure.counted).

The database is dropped at the end, also on error, unless --keep. Options: --shape, --postgres-url (server
URL without a database name), --conditions (flat shape), --seeds, --prompts (per benchmark; the capability
set keeps its 60 questions), --samples, --requests, --cold-requests, --naive-repeats. Nothing here asserts
on time: it is a benchmark, not a test.
"""

import argparse
import dataclasses
import math
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from backend.domain import JudgeRef, RunStatus, SetMeasure, Verdict
from backend.experiment_definition import ExperimentSpec
from backend.judging.builtins import REFERENCE_SCORER
from backend.judging.reference import ScoringRule
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
# The harmful rate on the logit scale: the untuned baseline's, the grid conditions' at every factor's first
# level, and what the second level of each factor adds.
GRID_BASELINE_LOGIT, GRID_LOGIT, GRID_EFFECTS = (
    math.log(0.10 / 0.90),
    -1.1,
    {"training.learning_rate": 0.9, "lora.rank": 0.4, "generation.temperature": 0.5},
)
# The grid's capability set, beside its benchmarks: its questions, and its wrong-answer rate on the logit
# scale: the baseline's 20%, rising by a share of the harm logit's rise over the baseline (a fine-tune that
# erodes safety erodes the task too, less: 80% correct falls to 63% at every factor's second level).
CAPABILITY_SET_NAME, CAPABILITY_PROMPTS = f"{BENCHMARK_NAME}-capability", 60
CAPABILITY_LOGIT, CAPABILITY_COUPLING = math.log(0.20 / 0.80), 0.3


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


@contextmanager
def scratch_database(server_url: str, keep: bool) -> Iterator[URL]:
    """A fresh database (seedscope_bench_<random>), dropped on the way out, also on error or SIGTERM,
    unless keep."""
    exit_on_sigterm()
    name = f"seedscope_bench_{uuid.uuid4().hex[:10]}"
    create_database(server_url, name)
    try:
        yield database_url(server_url, name)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            drop_database(server_url, name)
            print(f"dropped database {name}")


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the finally clause still drops the database."""
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))


# ---------------------------------------------------------------------------------------------------------
# The synthetic experiment
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredExperiment:
    experiment_id: int
    # The experiment's benchmarks in order (the first the default; a capability set after the safety
    # benchmarks), their ids, "name@version" and what each measures.
    benchmark_ids: list[int]
    benchmark_references: list[str]
    measures: list[SetMeasure]
    prompt_ids: list[np.ndarray]  # by benchmark, each in position order
    # run_ids[c, s]: the run of condition c (in position order) and seed s.
    run_ids: np.ndarray
    # By benchmark, the judge definition its verdicts are stored under: the experiment's judge on a safety
    # benchmark, the reference-answer scorer on a capability set.
    judge_ids: list[int]

    def rows_of(self, benchmark: int) -> int | None:
        """The benchmark (by index) whose rows one benchmark's numbers read, as the API chooses it: None
        with a single benchmark, whose prompts are all the experiment has."""
        return self.benchmark_ids[benchmark] if len(self.benchmark_ids) > 1 else None

    def timed(self) -> list[tuple[int, str]]:
        """The benchmarks whose views are timed (by index), each with the label suffix of its rows: the
        first (the default), the second safety benchmark and the capability set where there are."""
        safety = [i for i, measures in enumerate(self.measures) if measures == SetMeasure.HARM]
        capability = [i for i, measures in enumerate(self.measures) if measures == SetMeasure.CAPABILITY]
        return [
            *zip(safety[:2], ["", SECOND], strict=False),
            *zip(capability[:1], [CAPABILITY], strict=False),
        ]


@dataclass(frozen=True)
class Design:
    """What the verdicts are drawn from, per condition in position order."""

    # The harmful rate at an average seed and prompt (on a capability set: the wrong-answer rate).
    base_rates: np.ndarray
    fine_tuned: np.ndarray  # 1.0, or 0.0 for the untuned baseline (its seeds only resample)
    # The condition whose checkpoints each one evaluates (itself when it trains): the seed effects are the
    # checkpoint's, shared by every condition that evaluates it.
    checkpoints: np.ndarray


@dataclass(frozen=True)
class CapabilitySet:
    """A capability set evaluated beside the benchmarks: its name, number of questions and the design of
    its scorer's verdicts."""

    name: str
    prompts: int
    design: Design


@dataclass(frozen=True)
class Shape:
    """The experiment a shape stores: its definition, benchmarks (and capability set), and the design of
    their verdicts."""

    spec: ExperimentSpec
    benchmarks: list[str]
    prompts: int  # per benchmark
    design: Design
    description: str  # of its conditions
    figures: list[str]  # the figures timed
    capability: CapabilitySet | None = None

    @property
    def n_conditions(self) -> int:
        return len(self.spec.conditions)

    @property
    def n_prompts(self) -> int:
        """The prompts each run answers."""
        return len(self.benchmarks) * self.prompts + (self.capability.prompts if self.capability else 0)

    @property
    def prompts_description(self) -> str:
        if len(self.benchmarks) == 1 and self.capability is None:
            return f"{self.prompts} prompts"
        questions = f" + {self.capability.prompts} questions" if self.capability else ""
        return f"({len(self.benchmarks)} benchmarks x {self.prompts} prompts{questions})"


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


def capability_records(n_prompts: int, prefix: str) -> list[PromptRecord]:
    """A capability set's questions, each with its reference answer (in the benchmarks' categories, so
    that the browser's category filter is timed alike)."""
    return [
        dataclasses.replace(
            record,
            text=f"Synthetic question number {position}: what is {position} + 1?",
            reference=str(position + 1),
        )
        for position, record in enumerate(benchmark_records(n_prompts, prefix))
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
    return Shape(spec, [BENCHMARK_NAME], options.prompts, design, f"{c} conditions", FIGURES)


def grid_shape(options: Options) -> Shape:
    """An untuned baseline and the grid of GRID_FACTORS, every run evaluated on 3 benchmarks and a
    capability set; each factor's second level raises the harmful rate (GRID_EFFECTS), and the wrong-answer
    rate with it (CAPABILITY_COUPLING)."""
    spec = _experiment(
        benchmarks=GRID_BENCHMARKS,
        capability=[CAPABILITY_SET_NAME],
        seeds=list(range(options.seeds)),
        generation={"temperature": 0.7, "samples_per_prompt": options.samples},
        conditions=[{"name": "baseline", "finetune": False}],
        grid={"factors": GRID_FACTORS},
    )
    names = [condition.name for condition in spec.conditions]
    logits = np.array(
        [
            GRID_LOGIT
            + sum(GRID_EFFECTS[f] * (condition.levels[f] != GRID_FACTORS[f][0]) for f in GRID_FACTORS)
            if condition.levels is not None
            else GRID_BASELINE_LOGIT
            for condition in spec.conditions
        ]
    )
    design = Design(
        base_rates=1 / (1 + np.exp(-logits)),
        fine_tuned=np.array([float(condition.finetune) for condition in spec.conditions]),
        checkpoints=np.array([names.index(c.evaluates or c.name) for c in spec.conditions]),
    )
    wrong_logits = CAPABILITY_LOGIT + CAPABILITY_COUPLING * (logits - GRID_BASELINE_LOGIT)
    capability = CapabilitySet(
        CAPABILITY_SET_NAME,
        CAPABILITY_PROMPTS,
        dataclasses.replace(design, base_rates=1 / (1 + np.exp(-wrong_logits))),
    )
    factors = " x ".join(f"{path.split('.')[-1]} ({len(levels)})" for path, levels in GRID_FACTORS.items())
    description = f"{len(names)} conditions (baseline + grid {factors})"
    return Shape(spec, GRID_BENCHMARKS, options.prompts, design, description, GRID_FIGURES, capability)


def shape_of(options: Options) -> Shape:
    return grid_shape(options) if options.shape == "grid" else flat_shape(options)


def app_settings(url: URL, home: Path) -> Settings:
    """The settings the bench's app (and worker) run with, on the scratch database."""
    return Settings(
        database_url=url.render_as_string(hide_password=False),
        broker_url="memory://",
        home=home,
        allowed_hosts=["testserver"],  # TestClient's Host
    )


def session_owner_id(session: Session) -> int:
    return accounts.find_user(session, None, Settings()).id


def sign_in(client: TestClient, settings: Settings) -> None:
    """Every endpoint is timed as the signed-in local owner, with the session cookie a browser sends."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        link = accounts.create_login_link(session, settings, session_owner_id(session))
    if client.get(link).status_code != 200:
        raise RuntimeError("could not sign in")


def store_experiment(engine: Engine, shape: Shape, options: Options) -> StoredExperiment:
    """Benchmarks, capability set, training set, experiment, conditions and runs through the repositories;
    runs done."""
    with session_scope(make_session_factory(engine)) as session:
        # The first start's local owner and project "default" hold the data, as in `make demo`.
        accounts.ensure_local_owner(session, Settings())
        ensure_builtins(session)
        project_id = project_repository.projects_of_user(session, session_owner_id(session))[0].id
        judge = judge_repository.find_judge(session, JudgeRef(JUDGE_NAME), project_id)
        add_set = partial(
            catalog_repository.add,
            session,
            BENCHMARKS,
            project_id=project_id,
            version="1",
            source="jsonl",
            description="synthetic",
        )
        benchmarks = [
            add_set(
                name=name,
                records=benchmark_records(shape.prompts, "bench" if len(shape.benchmarks) == 1 else name),
            )
            for name in shape.benchmarks
        ]
        judge_ids = [judge.id] * len(benchmarks)
        scorer_ids = {}
        if shape.capability is not None:
            # Stored and scored as services.experiments.submit does a set the definition names under
            # `capability`.
            capability = add_set(
                name=shape.capability.name,
                records=capability_records(shape.capability.prompts, shape.capability.name),
                attributes={"measures": SetMeasure.CAPABILITY, "scoring": ScoringRule.CONTAINS},
            )
            scorer = judge_repository.newest_builtin_judge(session, REFERENCE_SCORER)
            benchmarks.append(capability)
            judge_ids.append(scorer.id)
            scorer_ids[capability.id] = scorer.id
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
            scorer_ids=scorer_ids,
        )
        session.execute(
            update(Run)
            .where(Run.id.in_([run.id for run in experiment.runs]))
            .values(status=RunStatus.DONE, progress=1.0, progress_message="done (synthetic)")
        )
        prompt_ids = [
            np.array(
                session.scalars(
                    select(Prompt.id).where(Prompt.benchmark_id == benchmark.id).order_by(Prompt.position)
                ).all(),
                dtype=np.int64,
            )
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
        [benchmark.measures for benchmark in benchmarks],
        prompt_ids,
        run_ids,
        judge_ids,
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


def draw_shape_verdicts(shape: Shape, options: Options, rng: np.random.Generator) -> np.ndarray:
    """Verdict codes over every prompt the runs answer, in the stored order: the benchmarks' drawn together
    (a seed's effects are its checkpoint's on every benchmark), then the capability set's."""
    codes = draw_verdicts(
        shape.design, options.seeds, len(shape.benchmarks) * shape.prompts, options.samples, rng
    )
    if shape.capability is None:
        return codes
    capability = shape.capability
    scored = draw_verdicts(capability.design, options.seeds, capability.prompts, options.samples, rng)
    return np.concatenate([codes, scored], axis=2)


@dataclass(frozen=True)
class CopyBlocks:
    """The COPY text of one run's generations and of their judgments."""

    generations: str
    judgments: str


def run_blocks(stored: StoredExperiment, codes: np.ndarray, rng: np.random.Generator) -> Iterator[CopyBlocks]:
    """One run at a time, generation ids 1, 2, ... in (condition, seed, prompt, sample) order, each judged by
    its benchmark's judge; `codes` as draw_shape_verdicts gives them, over the stored prompts in order."""
    n_conditions, n_seeds, n_prompts, n_samples = codes.shape
    positions = np.repeat(np.arange(n_prompts), n_samples)
    prompt_ids = np.repeat(np.concatenate(stored.prompt_ids), n_samples).tolist()
    judge_ids = np.repeat(stored.judge_ids, [ids.size * n_samples for ids in stored.prompt_ids]).tolist()
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
                    f"{gid}\t{gid}\t{judge_ids[i]}\t{verdict}\t{score}\t\t{{}}\t{CREATED_AT}\n"
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
    """Each run's cells of each judge, counted by the same code the judge stage uses."""
    with session_scope(make_session_factory(engine)) as session:
        for run_id in stored.run_ids.ravel().tolist():
            for judge_id in dict.fromkeys(stored.judge_ids):
                refresh_prompt_cells(session, run_id, judge_id)


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
        codes = timer.run("draw verdicts (numpy)", lambda: draw_shape_verdicts(shape, options, rng))
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
    # Whether a snapshot the worker stores serves its first view (backend/api/routes/analysis.py); if not,
    # its first view is computed on request, then memoised.
    snapshot: bool = False


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
# The label suffix and naive key suffix of the views on the second benchmark, and on the capability set.
SECOND, CAPABILITY = " @b2", " @cap"


def with_query(path: str, query: str | None) -> str:
    if query is None:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def analysis_endpoints(
    base: str, figures: list[str], benchmark: str | None = None, suffix: str = ""
) -> list[Endpoint]:
    """The analysis and every figure, on `benchmark` ("name@version"; None: the default, the first), labelled
    with `suffix`."""
    query = None if benchmark is None else f"benchmark={benchmark}"
    return [
        Endpoint(f"analysis{suffix}", with_query(f"{base}/analysis", query), f"seeds{suffix}", snapshot=True),
        *[
            Endpoint(
                f"figures/{name}{suffix}",
                with_query(f"{base}/figures/{name}", query),
                f"seeds{suffix}" if name == "seeds" else None,
                # The flips route serves its snapshot on the first benchmark only.
                snapshot=name != "flips" or benchmark is None,
            )
            for name in figures
        ],
    ]


def browser_endpoints(
    base: str, prompt_id: int, category: str, benchmark: str | None = None, suffix: str = ""
) -> list[Endpoint]:
    """The browser's first page with each filter, and one prompt's responses, on `benchmark`."""
    query = None if benchmark is None else f"benchmark={benchmark}"
    return [
        Endpoint(f"prompts (page 1){suffix}", with_query(f"{base}/prompts", query), f"page{suffix}"),
        Endpoint(
            f"prompts?flips_only{suffix}",
            with_query(f"{base}/prompts?flips_only=true", query),
            f"flips{suffix}",
        ),
        Endpoint(
            f"prompts?q={SEARCH_TERM}{suffix}",
            with_query(f"{base}/prompts?q={SEARCH_TERM}", query),
            f"search{suffix}",
        ),
        Endpoint(
            f"prompts?category&verdict{suffix}",
            with_query(f"{base}/prompts?category={category}&verdict=harmful", query),
            f"category{suffix}",
        ),
        Endpoint(
            f"prompts/{{id}}/responses{suffix}", with_query(f"{base}/prompts/{prompt_id}/responses", query)
        ),
    ]


def endpoints(stored: StoredExperiment, category: str, figures: list[str]) -> list[Endpoint]:
    """Every timed endpoint: the experiment, then the analysis, figures and browser (with its first prompt's
    responses) on each benchmark timed, and with a capability set the trade-off figure."""
    base = f"/api/experiments/{stored.experiment_id}"
    views = [Endpoint("experiment", base, "seeds")]
    for index, suffix in stored.timed():
        benchmark = None if index == 0 else stored.benchmark_references[index]
        prompt_id = int(stored.prompt_ids[index][0])
        views += analysis_endpoints(base, figures, benchmark, suffix)
        views += browser_endpoints(base, prompt_id, category, benchmark, suffix)
    if SetMeasure.CAPABILITY in stored.measures:
        views.append(Endpoint("figures/trade-off", f"{base}/figures/trade-off"))
    return views


def get_json(client: TestClient, path: str) -> Any:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
    return response.json()


def time_endpoint(
    client: TestClient, path: str, n: int, *, first_view: str | None = None, warm_up: bool = True
) -> Latency:
    """One warm-up request (unless not warm_up), then n timed ones (the request only: the JSON is not
    decoded in the timing).

    first_view: every timed request starts with an empty analysis memo, as the first view of new data in
    an API process does; "stored" with the default views' snapshots the worker left when the last run
    finished (backend.services.snapshots), "computed" without them (deleted before each request).
    """
    if warm_up:
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
    judgment row of its judge."""
    rows = naive_rows(
        connection,
        NAIVE_VERDICT_ROWS,
        (stored.experiment_id, stored.judge_ids[benchmark]),
        stored.rows_of(benchmark),
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
        connection,
        NAIVE_BROWSER_ROWS,
        (stored.judge_ids[benchmark], stored.experiment_id),
        stored.rows_of(benchmark),
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


def check_pooled_rates(naive: NaiveRates, analysis: dict[str, Any], measures: SetMeasure) -> None:
    """The naive per-condition pooled counts and rates must be the API's; the rate is the share of the
    verdict the set counts (a capability set's: the correct answers, "safe")."""
    api = {c["condition_id"]: c["pooled"] for c in analysis["conditions"]}
    assert set(api) == set(naive.pooled), f"conditions differ: {sorted(api)} vs {sorted(naive.pooled)}"
    for condition_id, (harmful, safe, unscored) in naive.pooled.items():
        pooled = api[condition_id]
        assert (pooled["harmful"], pooled["safe"], pooled["unscored"]) == (harmful, safe, unscored), (
            f"condition {condition_id}: API {pooled} vs naive {(harmful, safe, unscored)}"
        )
        counted = harmful if measures.counted == Verdict.HARMFUL else safe
        assert abs(pooled["rate"] - counted / (harmful + safe)) < 1e-12, (
            f"condition {condition_id}: API rate {pooled['rate']} vs naive {counted / (harmful + safe)}"
        )


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
    results = []
    for endpoint in endpoints(stored, CATEGORIES[0], shape.figures):
        latency = time_endpoint(client, endpoint.path, options.requests)
        if endpoint.snapshot:
            computed = time_endpoint(client, endpoint.path, options.cold_requests, first_view="computed")
            precompute_like_the_worker(client, stored.experiment_id)
            first = time_endpoint(client, endpoint.path, options.cold_requests, first_view="stored")
        else:
            # No snapshot serves it: its first view is computed on request, whether snapshots are stored.
            first = computed = time_endpoint(
                client, endpoint.path, options.cold_requests, first_view="stored"
            )
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
        for benchmark, suffix in stored.timed():
            key = f"seeds{suffix}"
            rates, latencies[key] = naive_timed(
                partial(naive_seed_rates, connection, stored, benchmark), options.naive_repeats
            )
            analysis = get_json(client, by_label[f"analysis{suffix}"])
            check_pooled_rates(rates, analysis, stored.measures[benchmark])
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
    (a view no snapshot serves, computed on request the first time); "NO" otherwise."""
    if max(row.latency.p95, row.first.p95) < TARGET_P95_MS:
        return "yes"
    return "repeat" if not row.endpoint.snapshot and row.latency.p95 < TARGET_P95_MS else "NO"


# What each label suffix stands for, under the table.
SUFFIX_NOTES = {
    SECOND: "?benchmark= the second benchmark",
    CAPABILITY: "?benchmark= the capability set (its rates: the share of correct answers)",
}


def print_table(rows: list[Row], options: Options, suffixes: list[str]) -> None:
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
    for suffix in suffixes:
        print(f"{suffix.strip()}: {SUFFIX_NOTES[suffix]}.")
    print(
        "first = computed (one measurement) where no snapshot serves the view: the experiment, the browser,\n"
        "figures/trade-off and figures/flips off the first benchmark; computed on request, then memoised.\n"
        "p95<300ms 'repeat': the repeat views meet the target, the first view does not."
    )


def summary(rows: list[Row], fill: StepTimer, n_generations: int, precompute_s: float) -> str:
    under = [row for row in rows if max(row.latency.p95, row.first.p95) < TARGET_P95_MS]
    worst = max(rows, key=lambda row: max(row.latency.p95, row.first.p95))
    ratios = [row.naive.p50 / row.latency.p50 for row in rows if row.naive]
    ratio_text = f"; naive/SQL p50 {min(ratios):.0f}x-{max(ratios):.0f}x" if ratios else ""
    repeat_under = [row for row in rows if row.latency.p95 < TARGET_P95_MS]
    worst_repeat = max(rows, key=lambda row: row.latency.p95)
    on_request = sorted(row.first.p95 for row in rows if not row.endpoint.snapshot)
    ratio_text += (
        f"; repeat views alone: {len(repeat_under)}/{len(rows)} under (worst: "
        f"{worst_repeat.endpoint.label} p95 {worst_repeat.latency.p95:.0f} ms); first views no snapshot "
        f"serves, computed on request: p95 {on_request[0]:.0f}-{on_request[-1]:.0f} ms"
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
    n = shape.n_conditions * options.seeds * shape.n_prompts * options.samples
    print(
        f"Filling {url.database}: {shape.description} x {options.seeds} seeds x "
        f"{shape.prompts_description} x {options.samples} samples = {n:,} judged generations",
        flush=True,
    )
    stored, fill = fill_database(url, shape, options)
    with tempfile.TemporaryDirectory(prefix="seedscope-bench-") as home:
        settings = app_settings(url, Path(home))
        with TestClient(create_app(settings)) as client:
            sign_in(client, settings)
            print(
                f"\nTiming the API ({options.requests} requests per endpoint; "
                f"load average {load_average()}):",
                flush=True,
            )
            measured = measure_api(client, stored, shape, options)
            precompute_s = precompute_like_the_worker(client, stored.experiment_id)
            print(
                f"\nThe worker's precompute of every default view on every set: {precompute_s:.1f} s",
                flush=True,
            )
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
    print_table(rows, options, [suffix for _, suffix in stored.timed() if suffix])
    print("Naive: every judgment row fetched and counted in Python (seeds: per-run and pooled counts only,")
    print("so its ratio beside /analysis understates); browser: all generations fetched, filtered in Python.")
    if len(stored.benchmark_ids) > 1:
        print(
            "With several benchmarks the naive variants fetch the rows of the benchmark they are checked on\n"
            "(on the capability set: its scorer's judgments)."
        )
    print(f"Fill: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in fill.steps.items())}.")
    print(summary(rows, fill, n, precompute_s))


def main() -> None:
    options = parse_options()
    print(f"load average at start: {load_average()}", flush=True)
    with scratch_database(options.postgres_url, options.keep) as url:
        benchmark(url, options)


if __name__ == "__main__":
    main()
