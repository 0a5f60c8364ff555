"""`seedscope-worker`: run Celery workers (one per GPU with --gpus), or prepare the embedded aligned base."""

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

log = logging.getLogger("seedscope-worker")

WORKER_COMMAND = [sys.executable, "-m", "worker.cli", "run"]
# How a supervised worker process is started: command and environment in, a process handle out.
Launch = Callable[[list[str], dict[str, str]], subprocess.Popen[bytes]]


def parse_gpus(text: str) -> list[str]:
    """'0,1' -> ['0', '1']: CUDA device indices, each listed once."""
    gpus = [part.strip() for part in text.split(",") if part.strip()]
    if not gpus or not all(gpu.isdigit() for gpu in gpus):
        raise argparse.ArgumentTypeError(f"--gpus takes CUDA device indices such as 0,1 (got {text!r})")
    if len(set(gpus)) != len(gpus):
        raise argparse.ArgumentTypeError(f"--gpus lists a device twice ({text!r})")
    return gpus


def gpu_worker_commands(gpus: Sequence[str], loglevel: str) -> list[tuple[list[str], dict[str, str]]]:
    """One worker process per GPU: it sees only its GPU, runs one task at a time, and refuses to start
    without it (SEEDSCOPE_DEVICE=cuda) rather than fall back to the CPU."""
    return [
        (
            [*WORKER_COMMAND, "--concurrency", "1", "--hostname", f"gpu{gpu}@%h", "--loglevel", loglevel],
            {**os.environ, "CUDA_VISIBLE_DEVICES": gpu, "SEEDSCOPE_DEVICE": "cuda"},
        )
        for gpu in gpus
    ]


def supervise(commands: Sequence[tuple[list[str], dict[str, str]]], launch: Launch) -> int:
    """Start every worker process; pass SIGTERM/SIGINT on to them. When one exits, stop the others and exit
    with its status, so the service manager (docker, systemd) restarts the set."""
    processes = [launch(command, env) for command, env in commands]

    def forward(signum: int, _frame: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        while (exited := next((p for p in processes if p.poll() is not None), None)) is None:
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("worker process %s exited with %s; stopped the others", exited.pid, exited.returncode)
    return exited.returncode


def _launch(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env)


def _run_worker(concurrency: int, hostname: str | None, loglevel: str) -> None:
    from backend.queue import declare_task_queue
    from worker.app import celery, settings
    from worker.device import check_device

    check_device(settings.device)
    declare_task_queue(celery)
    celery.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            *([f"--hostname={hostname}"] if hostname else []),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seedscope-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start a worker that fine-tunes, generates and judges")
    run.add_argument("--concurrency", type=int, default=1, help="runs at once (1 per GPU or CPU box)")
    run.add_argument(
        "--gpus",
        type=parse_gpus,
        help="start one worker process per listed GPU (e.g. 0,1), each seeing only its GPU",
    )
    run.add_argument("--hostname", help="the worker's name (default: celery@HOST)")
    run.add_argument("--loglevel", default="INFO")
    commands.add_parser("prepare-base", help="prepare and cache the embedded aligned SmolLM2 base")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "run" and args.gpus:
        sys.exit(supervise(gpu_worker_commands(args.gpus, args.loglevel), _launch))
    elif args.command == "run":
        _run_worker(args.concurrency, args.hostname, args.loglevel)
    elif args.command == "prepare-base":
        from worker.alignment import ensure_aligned_model
        from worker.app import settings

        settings.ensure_dirs()
        print(f"aligned base ready at {ensure_aligned_model(settings, print)}")


if __name__ == "__main__":
    main()
