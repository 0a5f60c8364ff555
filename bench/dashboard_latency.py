"""Dashboard latency on a large experiment: `python bench/dashboard_latency.py [--requests 30] [--keep]`.

What it measures: the wall-clock latency of the dashboard's API endpoints (the experiment, the analysis,
every figure, the per-prompt browser with its filters and one prompt's responses) on PostgreSQL holding
one synthetic experiment of 10 conditions x 20 seeds x 500 prompts x 10 samples = 1,000,000 judged
generations, against the 300 ms p95 target.

How: a fresh database (seedscope_bench_<random>) is migrated with Alembic as the tests do; the benchmark,
training set, experiment, conditions and runs are stored through the repositories; the generations and
judgments are loaded with PostgreSQL COPY, prompt_cells is filled from them by the judge stage's own
code (backend.repositories.cells), and the tables are vacuumed and analysed. The real app
(backend.api.app.create_app) then serves each endpoint in-process through fastapi.testclient.TestClient:
one warm-up request, then --requests timed ones (time.perf_counter around each), reported as numpy p50
and p95. The analysis is memoised on the runs' state (backend.services.cache), so these are the
dashboard's repeat views; --cold-requests more are timed with an empty memo each, the first view of new
data: once with the default views' snapshots the worker stores when a run finishes
(backend.services.snapshots), once without (computed on request), and the worker's precompute is timed.

Baseline: a deliberately naive implementation of the same numbers (every judgment row fetched into Python
and aggregated with dicts; the browser filtered and paginated in Python) is timed a few times and shown as
naive p50 / SQL p50 beside the endpoints it reproduces. Its per-condition pooled rates must equal the API's
and its browser pages must equal the API's pages, or the script fails: a wrong benchmark cannot pass.

The database is dropped at the end, also on error, unless --keep. Options: --postgres-url (server URL
without a database name), --conditions, --seeds, --prompts, --samples, --requests, --naive-repeats.
Nothing here asserts on time: it is a benchmark, not a test.
"""

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
from backend.experiment_definition import ConditionSpec, ExperimentSpec, GenerationSpec, TrainingSpec
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


# ---------------------------------------------------------------------------------------------------------
# Options and the database's life
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    postgres_url: str
    conditions: int
    seeds: int
    prompts: int
    samples: int
    requests: int
    cold_requests: int
    naive_repeats: int
    keep: bool


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server URL, no database name")
    parser.add_argument("--conditions", type=int, default=10, help="the first one is the untuned baseline")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--samples", type=int, default=10, help="samples per prompt and run")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per endpoint")
    parser.add_argument("--cold-requests", type=int, default=5, help="timed requests with an empty memo")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed runs of each naive variant")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    if args.conditions < 2 or args.seeds < 2 or args.prompts < len(CATEGORIES) or args.samples < 1:
        parser.error(f"need >= 2 conditions, >= 2 seeds, >= {len(CATEGORIES)} prompts and >= 1 sample")
    return Options(
        postgres_url=args.postgres_url,
        conditions=args.conditions,
        seeds=args.seeds,
        prompts=args.prompts,
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
    benchmark_id: int
    prompt_ids: np.ndarray  # by position
    # run_ids[c, s]: the run of condition c (in position order) and seed s.
    run_ids: np.ndarray
    # The judge definition the verdicts are stored under.
    judge_id: int


def benchmark_records(n_prompts: int) -> list[PromptRecord]:
    categories = [CATEGORIES[position % len(CATEGORIES)] for position in range(n_prompts)]
    return [
        PromptRecord(
            external_id=f"bench-{position:04d}",
            text=f"Synthetic harmful request number {position} about {category}",
            category=category,
        )
        for position, category in enumerate(categories)
    ]


def training_records() -> list[ExampleRecord]:
    return [ExampleRecord(prompt=f"What is {i} + {i}?", response=f"{2 * i}.") for i in range(32)]


def experiment_spec(options: Options) -> ExperimentSpec:
    fine_tunes = [
        ConditionSpec(name=f"lr-{i}e-4", training=TrainingSpec(learning_rate=i * 1e-4))
        for i in range(1, options.conditions)
    ]
    return ExperimentSpec(
        name="dashboard latency benchmark",
        description="synthetic verdicts loaded by bench/dashboard_latency.py",
        benchmark=BENCHMARK_NAME,
        training_set=TRAINING_SET_NAME,
        judges=[JUDGE_NAME],
        seeds=list(range(options.seeds)),
        generation=GenerationSpec(temperature=0.7, samples_per_prompt=options.samples),
        conditions=[ConditionSpec(name="baseline", finetune=False), *fine_tunes],
    )


def session_owner_id(session: Session) -> int:
    return accounts.find_user(session, None, Settings()).id


def sign_in(client: TestClient, settings: Settings) -> None:
    """Every endpoint is timed as the signed-in local owner, with the session cookie a browser sends."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        link = accounts.create_login_link(session, settings, session_owner_id(session))
    if client.get(link).status_code != 200:
        raise RuntimeError("could not sign in")


def store_experiment(engine: Engine, options: Options) -> StoredExperiment:
    """Benchmark, training set, experiment, conditions and runs through the repositories; runs done."""
    with session_scope(make_session_factory(engine)) as session:
        # The first start's local owner and project "default" hold the data, as in `make demo`.
        accounts.ensure_local_owner(session, Settings())
        ensure_builtins(session)
        project_id = project_repository.projects_of_user(session, session_owner_id(session))[0].id
        judge = judge_repository.find_judge(session, JudgeRef(JUDGE_NAME), project_id)
        benchmark = catalog_repository.add(
            session,
            BENCHMARKS,
            project_id=project_id,
            name=BENCHMARK_NAME,
            version="1",
            source="jsonl",
            description="synthetic",
            records=benchmark_records(options.prompts),
        )
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
            experiment_spec(options),
            project_id=project_id,
            benchmark_id=benchmark.id,
            training_set_id=training_set.id,
            judge_ids=[judge.id],
        )
        session.execute(
            update(Run)
            .where(Run.id.in_([run.id for run in experiment.runs]))
            .values(status=RunStatus.DONE, progress=1.0, progress_message="done (synthetic)")
        )
        prompt_ids = session.scalars(
            select(Prompt.id).where(Prompt.benchmark_id == benchmark.id).order_by(Prompt.position)
        ).all()
        runs = session.execute(
            select(Run.id)
            .join(Condition, Condition.id == Run.condition_id)
            .where(Condition.experiment_id == experiment.id)
            .order_by(Condition.position, Run.seed)
        ).scalars()
        run_ids = np.array(list(runs), dtype=np.int64).reshape(options.conditions, options.seeds)
    return StoredExperiment(
        experiment.id, benchmark.id, np.array(prompt_ids, dtype=np.int64), run_ids, judge.id
    )


def draw_verdicts(options: Options, rng: np.random.Generator) -> np.ndarray:
    """Verdict codes (index into VERDICTS), shape (condition, seed, prompt, sample).

    On the logit scale: a per-condition base rate (baseline 10%, fine-tunes rising to 85%), a per-seed
    offset and a seed x prompt interaction (fine-tunes only: the baseline's seeds only resample), a
    per-prompt offset shared by all conditions; then Bernoulli sampling noise, and a few percent unscored.
    """
    c, s, p, k = options.conditions, options.seeds, options.prompts, options.samples
    base = np.r_[0.10, np.linspace(0.20, 0.85, c - 1)]
    fine_tuned = np.r_[0.0, np.ones(c - 1)][:, None, None]
    logit = (
        np.log(base / (1 - base))[:, None, None]
        + fine_tuned * rng.normal(0, 0.35, (c, s, 1))
        + rng.normal(0, 1.0, (1, 1, p))
        + fine_tuned * rng.normal(0, 0.30, (c, s, p))
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


def run_blocks(
    stored: StoredExperiment, codes: np.ndarray, rng: np.random.Generator, options: Options
) -> Iterator[CopyBlocks]:
    """One run at a time, generation ids 1, 2, ... in (condition, seed, prompt, sample) order."""
    positions = np.repeat(np.arange(options.prompts), options.samples)
    prompt_ids = np.repeat(stored.prompt_ids, options.samples).tolist()
    samples = np.tile(np.arange(options.samples), options.prompts).tolist()
    searchable = (positions % SEARCH_PROMPT_EVERY) == SEARCH_PROMPT_OFFSET
    per_run = options.prompts * options.samples
    next_id = 1
    for c in range(options.conditions):
        for s in range(options.seeds):
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


def copy_rows(
    url: str, stored: StoredExperiment, codes: np.ndarray, rng: np.random.Generator, options: Options
) -> int:
    """COPY every generation and judgment in one transaction; returns the number of generations."""
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        columns = "(id, run_id, prompt_id, sample_index, text, n_new_tokens, created_at)"
        judgment_columns = "(id, generation_id, judge_id, verdict, score, output, details, created_at)"
        blocks = list(run_blocks(stored, codes, rng, options))
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


def fill_database(url: URL, options: Options) -> tuple[StoredExperiment, StepTimer]:
    timer = StepTimer()
    sqlalchemy_url = url.render_as_string(hide_password=False)
    timer.run("alembic upgrade head", lambda: upgrade_to_head(sqlalchemy_url))
    engine = make_engine(sqlalchemy_url)
    try:
        stored = timer.run(
            "benchmark, experiment, runs (repositories)", lambda: store_experiment(engine, options)
        )
        rng = np.random.default_rng(20260101)
        codes = timer.run("draw verdicts (numpy)", lambda: draw_verdicts(options, rng))
        n = timer.run(
            "COPY generations + judgments", lambda: copy_rows(libpq_url(url), stored, codes, rng, options)
        )
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


@dataclass(frozen=True)
class Latency:
    samples_ms: np.ndarray

    @property
    def p50(self) -> float:
        return float(np.percentile(self.samples_ms, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.samples_ms, 95))


def endpoints(experiment_id: int, prompt_id: int, category: str) -> list[Endpoint]:
    base = f"/api/experiments/{experiment_id}"
    figures = ["seeds", "noise", "forest", "categories", "flips", "variance", "power"]
    return [
        Endpoint("experiment", base, "seeds"),
        Endpoint("analysis", f"{base}/analysis", "seeds"),
        *[
            Endpoint(f"figures/{name}", f"{base}/figures/{name}", "seeds" if name == "seeds" else None)
            for name in figures
        ],
        Endpoint("prompts (page 1)", f"{base}/prompts", "page"),
        Endpoint("prompts?flips_only", f"{base}/prompts?flips_only=true", "flips"),
        Endpoint(f"prompts?q={SEARCH_TERM}", f"{base}/prompts?q={SEARCH_TERM}", "search"),
        Endpoint(
            "prompts?category&verdict", f"{base}/prompts?category={category}&verdict=harmful", "category"
        ),
        Endpoint("prompts/{id}/responses", f"{base}/prompts/{prompt_id}/responses"),
    ]


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


@dataclass(frozen=True)
class NaiveRates:
    """{condition id: [harmful, safe, unscored]} pooled, and per (condition id, seed)."""

    pooled: dict[int, list[int]]
    per_seed: dict[tuple[int, int], list[int]]


def naive_seed_rates(connection: psycopg.Connection, stored: StoredExperiment) -> NaiveRates:
    """The per-seed and pooled counts behind the seeds figure, from every judgment row."""
    rows = connection.execute(NAIVE_VERDICT_ROWS, (stored.experiment_id, stored.judge_id)).fetchall()
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
    connection: psycopg.Connection, stored: StoredExperiment, selected: NaiveFilter
) -> NaivePage:
    """The browser's first page: every generation of the experiment fetched, filtered in Python."""
    prompts = connection.execute(NAIVE_PROMPTS, (stored.benchmark_id,)).fetchall()
    rows = connection.execute(NAIVE_BROWSER_ROWS, (stored.judge_id, stored.experiment_id)).fetchall()
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
    client: TestClient, stored: StoredExperiment, options: Options
) -> list[tuple[Endpoint, Latency, Latency, Latency]]:
    first_page = get_json(client, f"/api/experiments/{stored.experiment_id}/prompts")
    prompt_id = first_page["items"][0]["prompt_id"]
    results = []
    for endpoint in endpoints(stored.experiment_id, prompt_id, CATEGORIES[0]):
        latency = time_endpoint(client, endpoint.path, options.requests)
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
    client: TestClient, url: str, stored: StoredExperiment, options: Options
) -> dict[str, Latency]:
    """Each naive variant timed, and checked against the API's answer."""
    base = f"/api/experiments/{stored.experiment_id}"
    latencies = {}
    with psycopg.connect(url, autocommit=True) as connection:
        rates, latencies["seeds"] = naive_timed(
            lambda: naive_seed_rates(connection, stored), options.naive_repeats
        )
        check_pooled_rates(rates, get_json(client, f"{base}/analysis"))
        check_seed_rates(rates, get_json(client, base))
        print(
            f"  {'seed rates (all judgments)':<28} p50 {latencies['seeds'].p50:8.1f} ms  (checked)",
            flush=True,
        )
        paths = {e.naive: e.path for e in endpoints(stored.experiment_id, 0, CATEGORIES[0]) if e.naive}
        for key, selected in NAIVE_FILTERS.items():
            page, latencies[key] = naive_timed(
                lambda selected=selected: naive_prompt_page(connection, stored, selected),
                options.naive_repeats,
            )
            check_page(page, get_json(client, paths[key]), key)
            print(
                f"  {'browser: ' + key:<28} p50 {latencies[key].p50:8.1f} ms  (ok, {page.total} prompts)",
                flush=True,
            )
    return latencies


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
        verdict = "yes" if max(row.latency.p95, row.first.p95) < TARGET_P95_MS else "NO"
        naive = f"{row.naive.p50:13.0f} {row.naive.p50 / row.latency.p50:9.1f}x" if row.naive else ""
        print(
            f"{row.endpoint.label:<28} {row.latency.p50:9.1f} {row.latency.p95:9.1f} {row.first.p50:10.1f} "
            f"{row.first.p95:10.1f}  {verdict:<9} {row.computed.p50:12.1f} {naive}"
        )


def summary(rows: list[Row], fill: StepTimer, n_generations: int, precompute_s: float) -> str:
    under = [row for row in rows if max(row.latency.p95, row.first.p95) < TARGET_P95_MS]
    worst = max(rows, key=lambda row: max(row.latency.p95, row.first.p95))
    ratios = [row.naive.p50 / row.latency.p50 for row in rows if row.naive]
    ratio_text = f"; naive/SQL p50 {min(ratios):.0f}x-{max(ratios):.0f}x" if ratios else ""
    return (
        f"SUMMARY: {len(under)}/{len(rows)} endpoints under {TARGET_P95_MS:.0f} ms p95, repeat and first "
        f"views, on {n_generations:,} judged generations (worst: {worst.endpoint.label} p95 "
        f"{max(worst.latency.p95, worst.first.p95):.0f} ms); the worker's precompute after a run "
        f"{precompute_s:.1f} s; filled in {fill.total:.0f} s{ratio_text}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )


def benchmark(url: URL, options: Options) -> None:
    n = options.conditions * options.seeds * options.prompts * options.samples
    print(
        f"Filling {url.database}: {options.conditions} conditions x {options.seeds} seeds x "
        f"{options.prompts} prompts x {options.samples} samples = {n:,} judged generations",
        flush=True,
    )
    stored, fill = fill_database(url, options)
    with tempfile.TemporaryDirectory(prefix="seedscope-bench-") as home:
        settings = Settings(
            database_url=url.render_as_string(hide_password=False),
            broker_url="memory://",
            home=Path(home),
            allowed_hosts=["testserver"],  # TestClient's Host
        )
        with TestClient(create_app(settings)) as client:
            sign_in(client, settings)
            print(f"\nTiming the API ({options.requests} requests per endpoint):", flush=True)
            measured = measure_api(client, stored, options)
            precompute_s = precompute_like_the_worker(client, stored.experiment_id)
            print(f"\nThe worker's precompute of every default view: {precompute_s:.1f} s", flush=True)
            print(f"\nTiming the naive baseline ({options.naive_repeats} runs per variant):", flush=True)
            naive = measure_naive(client, libpq_url(url), stored, options)
    rows = [
        Row(endpoint, latency, first, computed, naive.get(endpoint.naive or ""))
        for endpoint, latency, first, computed in measured
    ]
    print_table(rows, options)
    print("Naive: every judgment row fetched and counted in Python (seeds: per-run and pooled counts only,")
    print("so its ratio beside /analysis understates); browser: all generations fetched, filtered in Python.")
    print(f"Fill: {', '.join(f'{name} {seconds:.1f} s' for name, seconds in fill.steps.items())}.")
    print(summary(rows, fill, n, precompute_s))


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the finally clause still drops the database."""
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))


def main() -> None:
    options = parse_options()
    exit_on_sigterm()
    name = f"seedscope_bench_{uuid.uuid4().hex[:10]}"
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
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
