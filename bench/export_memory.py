"""Peak memory and time of the streamed export: `python bench/export_memory.py [--keep]`.

What it measures: the export behind GET /api/experiments/{id}/export.csv and .parquet
(backend.services.exports.csv_stream / parquet_stream, the generators those endpoints stream) on PostgreSQL
holding the synthetic experiment of bench/dashboard_latency.py (10 conditions x 20 seeds x 500 prompts x 10
samples = 1,000,000 judged generations, one judge: 1,000,000 rows), written to a file.

How: the database is filled by dashboard_latency's own fill code (fill_database). Each variant then runs in
a fresh child process that imports what it needs, connects and reads the condition settings; then its
resident memory is read (VmRSS), the kernel's peak counter is reset (writing 5 to /proc/self/clear_refs,
Linux >= 4.0), the export runs, and the peak during it is read (VmHWM). "Growth" is that peak minus the
memory before: what the export itself held at most. Time: the wall clock around the export.

Baseline, in the same run: the same code with one chunk as large as the whole table, i.e. every row loaded
at once (then written in one go), which is what the export did without chunking. The streamed and
all-at-once outputs must be the same (CSV byte for byte; Parquet equal as tables), or the script fails.
One unmeasured export first warms PostgreSQL's cache; then --rounds rounds, alternating the order of the
variants; the table shows the median time and the largest memory of each.

The database is dropped at the end, also on error, unless --keep. Nothing here asserts on time or memory.
"""

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from dashboard_latency import (  # the 1M-judgment fill, shared with the latency benchmark
    DEFAULT_POSTGRES_URL,
    Options,
    create_database,
    database_url,
    drop_database,
    exit_on_sigterm,
    fill_database,
    flat_shape,
)

from backend.services.exports import CHUNK_ROWS

VARIANTS = {
    # name: (format, chunk rows; 0 = the whole table in one chunk)
    "streamed csv": ("csv", CHUNK_ROWS),
    "all at once csv": ("csv", 0),
    "streamed parquet": ("parquet", CHUNK_ROWS),
    "all at once parquet": ("parquet", 0),
}


def memory_kib(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak since start or the last reset) of this process, in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:")))


def child(variant: str, url: str, experiment_id: int, out: Path) -> None:
    """One variant in this process: export to `out`, print what happened as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from backend.db import make_engine, make_session_factory
    from backend.services import exports

    file_format, chunk_rows = VARIANTS[variant]
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        settings = exports.condition_settings(session, experiment_id)
    stream = {"csv": exports.csv_stream, "parquet": exports.parquet_stream}[file_format]
    # pyarrow's first Parquet file sets up its memory pool and thread pools, once per process (tens of MiB,
    # whatever the rows): done before measuring, so the growth is the export's own.
    pq.write_table(pa.table({"warm-up": [1]}), io.BytesIO())
    before = memory_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak counter starts again from now
    started = time.perf_counter()
    digest, size, chunks = hashlib.sha256(), 0, 0
    with out.open("wb") as sink:
        for data in stream(factory, experiment_id, settings, chunk_rows or 10**9):
            sink.write(data)
            digest.update(data)
            size += len(data)
            chunks += 1
    seconds = time.perf_counter() - started
    peak = memory_kib("VmHWM")
    engine.dispose()
    result = {"seconds": seconds, "bytes": size, "chunks": chunks, "sha256": digest.hexdigest()}
    print(json.dumps({**result, "before_mib": before / 1024, "peak_mib": peak / 1024}))


def run_child(variant: str, url: str, experiment_id: int, out: Path) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--database-url", url]
    command += ["--experiment-id", str(experiment_id), "--out", str(out)]
    finished = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{variant}: child exited with {finished.returncode}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def check_same_output(results: dict[str, dict], outputs: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    assert results["streamed csv"]["sha256"] == results["all at once csv"]["sha256"], "CSV outputs differ"
    streamed = pq.read_table(outputs["streamed parquet"])
    whole = pq.read_table(outputs["all at once parquet"])
    assert streamed.equals(whole), "Parquet outputs differ"
    print(f"checked: both CSVs identical; both Parquet files hold the same {streamed.num_rows:,}-row table")


def benchmark(url: str, experiment_id: int, rows: int, rounds: int) -> None:
    results: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="seedscope-export-") as folder:
        outputs = {variant: Path(folder) / variant.replace(" ", "-") for variant in VARIANTS}
        # Every row read once, unmeasured, so PostgreSQL's cache is as warm for the first variant as for
        # the last.
        run_child("streamed csv", url, experiment_id, Path(folder) / "warm-up")
        for number in range(rounds):
            order = list(VARIANTS) if number % 2 == 0 else list(reversed(VARIANTS))  # no variant always first
            for variant in order:
                r = run_child(variant, url, experiment_id, outputs[variant])
                results[variant].append(r)
                growth = r["peak_mib"] - r["before_mib"]
                print(
                    f"  round {number + 1} {variant:<22} {r['seconds']:7.1f} s  peak growth {growth:6.0f} MiB"
                )
        check_same_output({variant: runs[-1] for variant, runs in results.items()}, outputs)
    print(f"\nExport of {rows:,} rows, each variant {rounds} times in a fresh process (median time; memory")
    print("in MiB, the largest of the rounds; growth = peak during the export minus the memory before it):")
    header = (
        f"{'variant':<22} {'seconds':>8} {'rows/s':>10} {'before':>8} {'peak':>8} {'growth':>8} "
        f"{'chunks':>7} {'output MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    summary = {}
    for variant, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        before = max(r["before_mib"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        growth = max(r["peak_mib"] - r["before_mib"] for r in runs)
        summary[variant] = (seconds, growth)
        print(
            f"{variant:<22} {seconds:8.1f} {rows / seconds:10,.0f} {before:8.0f} {peak:8.0f} {growth:8.0f} "
            f"{runs[-1]['chunks']:7} {runs[-1]['bytes'] / 2**20:11.1f}"
        )
    for file_format in ("csv", "parquet"):
        (streamed_s, streamed_mib), (whole_s, whole_mib) = (
            summary[f"streamed {file_format}"],
            summary[f"all at once {file_format}"],
        )
        print(
            f"SUMMARY {file_format}: peak growth streamed {streamed_mib:.0f} MiB vs all at once "
            f"{whole_mib:.0f} MiB; {streamed_s:.1f} s vs {whole_s:.1f} s; "
            f"load average {os.getloadavg()[0]:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server URL, no database name")
    parser.add_argument("--conditions", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each variant")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--experiment-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.database_url, args.experiment_id, args.out)
        return
    exit_on_sigterm()
    options = Options(
        postgres_url=args.postgres_url,
        shape="flat",
        conditions=args.conditions,
        seeds=args.seeds,
        prompts=args.prompts,
        samples=args.samples,
        requests=0,
        cold_requests=0,
        naive_repeats=0,
        keep=args.keep,
    )
    rows = options.conditions * options.seeds * options.prompts * options.samples
    name = f"seedscope_bench_{uuid.uuid4().hex[:10]}"
    url = database_url(options.postgres_url, name)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    create_database(options.postgres_url, name)
    try:
        print(
            f"Filling {name} with {rows:,} judged generations (bench/dashboard_latency.py's fill):",
            flush=True,
        )
        stored, _ = fill_database(url, flat_shape(options), options)
        print(f"\nExporting experiment {stored.experiment_id}, each variant in a fresh process:", flush=True)
        benchmark(url.render_as_string(hide_password=False), stored.experiment_id, rows, args.rounds)
    finally:
        if options.keep:
            print(f"kept database {name}")
        else:
            drop_database(options.postgres_url, name)
            print(f"dropped database {name}")


if __name__ == "__main__":
    main()
