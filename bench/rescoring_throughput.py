"""Rescoring throughput on a large experiment, and the dashboard while it runs:
`python bench/rescoring_throughput.py [--keep]`.

What it measures: a fast judge added to an experiment of a million stored responses judges them all as the
worker's rescoring job does (worker.rescoring.rescore: pages of settings.rescore_page_rows responses, each
judged settings.judge_batch_size at a time, its verdicts and prompt-cell recounts written in one
transaction under the job's lease). Reported: the job's
throughput (responses judged per second over the whole call, the final precompute of the dashboard
included), and the latency of the dashboard's endpoints while the job runs (p50/p95 per endpoint, against
the 300 ms p95 target), beside the same endpoints timed idle just before.

How: the database is bench/dashboard_latency.py's flat experiment (10 conditions x 20 seeds x 500 prompts x
10 samples = 1,000,000 judged generations by refusal-minilm), filled by its fill_database, with the
worker's snapshots of the default views stored (its precompute). The built-in judge refusal-phrases (its
newest version) is added through the real API (POST /api/experiments/{id}/judges, signed in as the local
owner; the queued job is recorded, not sent to a broker), and the job runs in a child process, as a worker
would beside the API: the API's timings share no interpreter lock with it. While the job's status is
running, the endpoints dashboard_latency times are requested in rounds (one request each, then --pause
seconds), in-process through fastapi.testclient.TestClient as there.

Baseline, in the same run, before the job: a plain loop over the same rows (generation id, prompt,
response: the experiment's responses on its safety benchmarks, read in id order through a server-side
cursor, a batch at a time) judged by the same judge implementation (worker.judges: load_judge, judge_pairs)
in the same batch size, storing nothing. The ratio of the two throughputs is what the job pays for durable,
resumable writes under a lease and the prompt-cell recounts.

Checks (the script fails if one does not hold): the job ends done having judged every response; every
response has exactly one judgment by the added judge; its verdict counts are the plain loop's; and the
pooled counts and rates per condition that the analysis shows under the added judge equal a direct SQL
count of its judgments.

The database is dropped at the end, also on error, unless --keep. Options: --postgres-url (server URL
without a database name), --conditions, --seeds, --prompts, --samples (the experiment's size),
--batch-size, --requests (idle timings per endpoint), --pause. Nothing here asserts on time: it is a
benchmark, not a test.
"""

import argparse
import multiprocessing
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from dashboard_latency import (  # the 1M-judgment experiment and the endpoint timings, shared
    CATEGORIES,
    DEFAULT_POSTGRES_URL,
    TARGET_P95_MS,
    Endpoint,
    Latency,
    NaiveRates,
    Options,
    StoredExperiment,
    app_settings,
    check_pooled_rates,
    endpoints,
    fill_database,
    flat_shape,
    get_json,
    libpq_url,
    load_average,
    precompute_like_the_worker,
    scratch_database,
    sign_in,
    time_endpoint,
)
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from backend.api.app import create_app
from backend.api_models.judges import JudgeDefinitionRead
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import JudgeJobStatus, SetMeasure
from backend.jobs import JobKind
from backend.models import Rescoring
from backend.repositories import judges as judge_repository
from worker.judges import load_judge
from worker.judges.base import JudgeResources, judge_pairs

ADDED_JUDGE = "refusal-phrases"


@dataclass(frozen=True)
class BenchOptions:
    fill: Options  # dashboard_latency's, the flat shape
    batch_size: int
    requests: int
    pause_s: float


def parse_options() -> BenchOptions:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server URL, no database name")
    parser.add_argument("--conditions", type=int, default=10, help="the first is the baseline")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--samples", type=int, default=10, help="samples per prompt and run")
    parser.add_argument(
        "--batch-size", type=int, default=Settings().judge_batch_size, help="responses per judge batch"
    )
    parser.add_argument("--requests", type=int, default=10, help="idle timed requests per endpoint")
    parser.add_argument(
        "--pause",
        type=float,
        default=5.0,
        help="seconds between rounds during the job (the page polls every 5 s)",
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()
    if args.conditions < 2 or args.seeds < 2 or args.prompts < len(CATEGORIES) or args.samples < 1:
        parser.error(f"need >= 2 conditions, >= 2 seeds, >= {len(CATEGORIES)} prompts and >= 1 sample")
    fill = Options(
        postgres_url=args.postgres_url,
        shape="flat",
        conditions=args.conditions,
        seeds=args.seeds,
        prompts=args.prompts,
        samples=args.samples,
        requests=args.requests,
        cold_requests=0,
        naive_repeats=0,
        keep=args.keep,
    )
    return BenchOptions(fill, args.batch_size, args.requests, args.pause)


# ---------------------------------------------------------------------------------------------------------
# BASELINE: the plain loop. The same rows, judged by the same judge in the same batches; nothing stored.
# ---------------------------------------------------------------------------------------------------------

PLAIN_ROWS = """
SELECT g.id, p.text, g.text
FROM generations g
JOIN prompts p ON p.id = g.prompt_id
JOIN runs r ON r.id = g.run_id
JOIN conditions c ON c.id = r.condition_id
WHERE c.experiment_id = %s AND p.benchmark_id = ANY(%s)
ORDER BY g.id
"""


@dataclass(frozen=True)
class Throughput:
    responses: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.responses / self.seconds


def plain_loop(
    url: str, stored: StoredExperiment, definition: JudgeDefinitionRead, settings: Settings, batch_size: int
) -> tuple[Throughput, Counter[str]]:
    """Judge the experiment's responses on its safety benchmarks a batch at a time; the verdicts counted."""
    safety = [
        b
        for b, measures in zip(stored.benchmark_ids, stored.measures, strict=True)
        if measures == SetMeasure.HARM
    ]
    judge = load_judge(definition.config, JudgeResources(settings))
    verdicts: Counter[str] = Counter()
    start = time.perf_counter()
    with psycopg.connect(url) as connection, connection.cursor(name="plain_loop") as cursor:
        cursor.execute(PLAIN_ROWS, (stored.experiment_id, safety))
        while batch := cursor.fetchmany(batch_size):
            results = judge_pairs(judge, [prompt for _, prompt, _ in batch], [text for *_, text in batch])
            verdicts.update(result.verdict.value for result in results)
    return Throughput(verdicts.total(), time.perf_counter() - start), verdicts


# ---------------------------------------------------------------------------------------------------------
# The rescoring job, in its own process
# ---------------------------------------------------------------------------------------------------------


class RecordedJobs:
    """Stands in for the broker: the API records the jobs it would send; this script runs them itself."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def enqueue(self, kind: JobKind[Any], job_id: int) -> None:
        self.sent.append((kind.noun, job_id))


def add_judge(client: TestClient, experiment_id: int, reference: str) -> int:
    """The judge added through the API; its rescoring's id."""
    response = client.post(f"/api/experiments/{experiment_id}/judges", json={"judges": [reference]})
    if response.status_code != 201:
        raise RuntimeError(f"adding {reference}: {response.status_code} {response.text[:500]}")
    (rescoring,) = response.json()
    return int(rescoring["id"])


def rescore_timed(rescoring_id: int, settings: Settings, report: Connection) -> None:
    """The worker's side (a child process): one call of the job, timed; sends (seconds, waiting)."""
    from worker.rescoring import rescore  # the worker's modules load here, not in the API's process

    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    start = time.perf_counter()
    waiting = rescore(rescoring_id, sessions, settings)
    report.send((time.perf_counter() - start, waiting))


def rescoring_status(sessions: sessionmaker[Session], rescoring_id: int) -> JudgeJobStatus:
    with sessions() as session:
        status = session.scalar(select(Rescoring.status).where(Rescoring.id == rescoring_id))
    assert status is not None, f"rescoring {rescoring_id} is stored"
    return status


def wait_until_running(
    sessions: sessionmaker[Session], rescoring_id: int, job: multiprocessing.process.BaseProcess
) -> None:
    while rescoring_status(sessions, rescoring_id) == JudgeJobStatus.QUEUED:
        if not job.is_alive():
            raise RuntimeError(f"the rescoring's process ended (exit code {job.exitcode}) before it ran")
        time.sleep(0.05)


def time_while_running(
    client: TestClient,
    timed: Sequence[Endpoint],
    rescoring_id: int,
    job: multiprocessing.process.BaseProcess,
    pause_s: float,
) -> tuple[dict[str, Latency], int]:
    """Rounds of one request per endpoint while the rescoring runs (at least one, should a tiny one be over
    by then); the latencies and the rounds."""
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    wait_until_running(sessions, rescoring_id, job)
    samples: dict[str, list[float]] = defaultdict(list)
    rounds = 0
    while rounds == 0 or (
        job.is_alive() and rescoring_status(sessions, rescoring_id) == JudgeJobStatus.RUNNING
    ):
        for endpoint in timed:
            latency = time_endpoint(client, endpoint.path, 1, warm_up=False)
            samples[endpoint.label].extend(latency.samples_ms.tolist())
        rounds += 1
        time.sleep(pause_s)
    return {label: Latency(np.array(values)) for label, values in samples.items()}, rounds


def run_rescoring(
    client: TestClient, settings: Settings, rescoring_id: int, timed: Sequence[Endpoint], pause_s: float
) -> tuple[float, dict[str, Latency], int]:
    """The job in a child process, the endpoints timed meanwhile: its seconds, the latencies, the rounds."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    job = context.Process(target=rescore_timed, args=(rescoring_id, settings, sending))
    job.start()
    try:
        latencies, rounds = time_while_running(client, timed, rescoring_id, job, pause_s)
        seconds, waiting = receiving.recv()
    except BaseException:
        job.terminate()  # an interrupted or failed bench leaves no job running
        raise
    finally:
        job.join()
    if waiting or job.exitcode != 0:
        raise RuntimeError(f"the rescoring did not finish (waiting {waiting}, exit code {job.exitcode})")
    return seconds, latencies, rounds


# ---------------------------------------------------------------------------------------------------------
# Checks of the job's result
# ---------------------------------------------------------------------------------------------------------

COVERAGE = """
SELECT count(*), count(j.id), count(DISTINCT j.generation_id)
FROM generations g
JOIN runs r ON r.id = g.run_id
JOIN conditions c ON c.id = r.condition_id
LEFT JOIN judgments j ON j.generation_id = g.id AND j.judge_id = %s
WHERE c.experiment_id = %s
"""

VERDICT_COUNTS = """
SELECT r.condition_id, j.verdict, count(*)
FROM judgments j
JOIN generations g ON g.id = j.generation_id
JOIN runs r ON r.id = g.run_id
JOIN conditions c ON c.id = r.condition_id
WHERE c.experiment_id = %s AND j.judge_id = %s
GROUP BY r.condition_id, j.verdict
"""

VERDICT_ORDER = ("harmful", "safe", "unscored")


def check_every_response_judged_once(
    connection: psycopg.Connection, stored: StoredExperiment, judge_id: int
) -> int:
    ((responses, judgments, judged),) = connection.execute(
        COVERAGE, (judge_id, stored.experiment_id)
    ).fetchall()
    assert responses == judgments == judged, (
        f"{responses} responses, {judgments} judgments by the added judge on {judged} of them"
    )
    return int(responses)


def check_pooled_counts(
    connection: psycopg.Connection,
    client: TestClient,
    stored: StoredExperiment,
    definition: JudgeDefinitionRead,
    plain_verdicts: Counter[str],
) -> None:
    """The added judge's verdict counts per condition (SQL) are the plain loop's in total, and the
    analysis's pooled counts and rates under that judge."""
    pooled: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for condition_id, verdict, count in connection.execute(
        VERDICT_COUNTS, (stored.experiment_id, definition.id)
    ):
        pooled[condition_id][VERDICT_ORDER.index(verdict)] = count
    stored_verdicts = Counter({v: sum(c[i] for c in pooled.values()) for i, v in enumerate(VERDICT_ORDER)})
    assert +stored_verdicts == +plain_verdicts, f"stored {stored_verdicts} vs plain loop {plain_verdicts}"
    analysis = get_json(client, f"/api/experiments/{stored.experiment_id}/analysis")
    (view,) = [view for view in analysis["by_judge"] if view["judge"] == definition.ref]
    check_pooled_rates(NaiveRates(dict(pooled), {}), view, SetMeasure.HARM)


# ---------------------------------------------------------------------------------------------------------
# The run and its report
# ---------------------------------------------------------------------------------------------------------


def added_definition(client: TestClient) -> JudgeDefinitionRead:
    """The newest version of the built-in judge to add, as the judge definitions table holds it."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return judge_repository.newest_builtin_judge(session, ADDED_JUDGE)


def time_idle(client: TestClient, timed: Sequence[Endpoint], requests: int) -> dict[str, Latency]:
    return {endpoint.label: time_endpoint(client, endpoint.path, requests) for endpoint in timed}


def print_latencies(
    timed: Sequence[Endpoint],
    idle: dict[str, Latency],
    during: dict[str, Latency],
    requests: int,
    rounds: int,
) -> None:
    header = (
        f"{'endpoint':<28} {'idle p50':>9} {'idle p95':>9} {'during p50':>11} {'during p95':>11}  p95<300ms"
    )
    print(
        f"\nLatency, idle ({requests} requests per endpoint after one warm-up) and during the rescoring "
        f"({rounds} rounds of one request each):"
    )
    print(header)
    print("-" * len(header))
    for endpoint in timed:
        before, while_running = idle[endpoint.label], during[endpoint.label]
        meets = "yes" if while_running.p95 < TARGET_P95_MS else "NO"
        print(
            f"{endpoint.label:<28} {before.p50:9.1f} {before.p95:9.1f} {while_running.p50:11.1f} "
            f"{while_running.p95:11.1f}  {meets}"
        )


def benchmark(url: URL, options: BenchOptions) -> None:
    shape = flat_shape(options.fill)
    n = shape.n_conditions * options.fill.seeds * shape.n_prompts * options.fill.samples
    print(
        f"Filling {url.database}: {shape.description} x {options.fill.seeds} seeds x "
        f"{shape.prompts_description} x {options.fill.samples} samples = {n:,} judged generations",
        flush=True,
    )
    stored, fill = fill_database(url, shape, options.fill)
    with tempfile.TemporaryDirectory(prefix="seedscope-bench-") as home:
        settings = app_settings(url, Path(home)).model_copy(update={"judge_batch_size": options.batch_size})
        jobs = RecordedJobs()
        with TestClient(create_app(settings, queue=jobs)) as client:  # type: ignore[arg-type]
            sign_in(client, settings)
            precompute_s = precompute_like_the_worker(client, stored.experiment_id)
            print(f"  {'the worker precompute (snapshots)':<44} {precompute_s:8.1f} s", flush=True)
            definition = added_definition(client)
            timed = endpoints(stored, CATEGORIES[0], shape.figures)
            print(f"\nTiming the endpoints idle (load average {load_average()}):", flush=True)
            idle = time_idle(client, timed, options.requests)

            print(
                f"\nThe plain loop: {definition.ref} over the same rows, batches of {options.batch_size} "
                f"(load average {load_average()}):",
                flush=True,
            )
            plain, plain_verdicts = plain_loop(
                libpq_url(url), stored, definition, settings, options.batch_size
            )
            print(
                f"  {plain.responses:,} responses in {plain.seconds:.1f} s: {plain.per_second:,.0f}/s",
                flush=True,
            )

            rescoring_id = add_judge(client, stored.experiment_id, definition.ref)
            assert jobs.sent == [("rescoring", rescoring_id)], f"the API queued {jobs.sent}"
            print(
                f"\nThe rescoring job ({definition.ref} added through the API, run in a worker process; the "
                f"endpoints timed meanwhile every {options.pause_s:g} s; load average {load_average()}):",
                flush=True,
            )
            seconds, during, rounds = run_rescoring(client, settings, rescoring_id, timed, options.pause_s)
            with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
                rescoring = session.get(Rescoring, rescoring_id)
                assert rescoring is not None
                status, n_judged, judge_s = rescoring.status, rescoring.n_judged, rescoring.seconds
            assert status == JudgeJobStatus.DONE, f"the rescoring ended {status}"
            job = Throughput(n_judged, seconds)
            print(
                f"  {job.responses:,} responses in {job.seconds:.1f} s: {job.per_second:,.0f}/s "
                f"(of which judging {judge_s:.1f} s)",
                flush=True,
            )
            with psycopg.connect(libpq_url(url)) as connection:
                responses = check_every_response_judged_once(connection, stored, definition.id)
                assert n_judged == responses, f"the job judged {n_judged} of {responses} responses"
                check_pooled_counts(connection, client, stored, definition, plain_verdicts)
            print(
                f"  checked: every one of the {responses:,} responses has one judgment by {definition.ref}; "
                "its counts are the plain loop's; the analysis's pooled rates under it equal a SQL count",
                flush=True,
            )
    print_latencies(timed, idle, during, options.requests, rounds)
    print(f"Fill: {', '.join(f'{name} {s:.1f} s' for name, s in fill.steps.items())}.")
    print(summary(job, plain, during, judge_s))


def summary(job: Throughput, plain: Throughput, during: dict[str, Latency], judge_s: float) -> str:
    under = [label for label, latency in during.items() if latency.p95 < TARGET_P95_MS]
    worst = max(during, key=lambda label: during[label].p95)
    return (
        f"SUMMARY: rescoring {job.per_second:,.0f} responses/s ({job.responses:,} in {job.seconds:.1f} s, "
        f"judging {judge_s:.1f} s of it); plain loop {plain.per_second:,.0f}/s ({plain.seconds:.1f} s); "
        f"plain / rescoring {plain.per_second / job.per_second:.1f}x; during the rescoring {len(under)}/"
        f"{len(during)} endpoints under {TARGET_P95_MS:.0f} ms p95 (worst: {worst} p95 "
        f"{during[worst].p95:.0f} ms); load average {load_average()}"
    )


def main() -> None:
    options = parse_options()
    print(f"load average at start: {load_average()}", flush=True)
    with scratch_database(options.fill.postgres_url, options.fill.keep) as url:
        benchmark(url, options)


if __name__ == "__main__":
    main()
