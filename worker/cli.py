"""`seedscope-worker`: run a Celery worker, or prepare the embedded aligned base ahead of time."""

import argparse
import logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seedscope-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start a worker that fine-tunes, generates and judges")
    run.add_argument("--concurrency", type=int, default=1, help="tasks at once (1 per GPU or CPU box)")
    run.add_argument("--loglevel", default="INFO")
    commands.add_parser("prepare-base", help="prepare and cache the embedded aligned SmolLM2 base")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "run":
        from worker.app import celery

        celery.worker_main(
            [
                "worker",
                f"--loglevel={args.loglevel}",
                f"--concurrency={args.concurrency}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    elif args.command == "prepare-base":
        from worker.alignment import ensure_aligned_model
        from worker.app import settings

        settings.ensure_dirs()
        print(f"aligned base ready at {ensure_aligned_model(settings, print)}")


if __name__ == "__main__":
    main()
