"""`seedscope-worker run --gpus`: one worker process per GPU, supervised as a set."""

import argparse
import signal
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO
from worker.cli import gpu_worker_commands, parse_gpus, supervise


def test_gpus_are_device_indices_listed_once() -> None:
    assert parse_gpus("0,1, 3") == ["0", "1", "3"]
    for wrong in ("", "a,b", "0,0", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_gpus(wrong)


def test_each_gpu_gets_its_own_single_task_worker_that_requires_it() -> None:
    commands = gpu_worker_commands(["0", "2"], "DEBUG")
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in commands] == ["0", "2"]
    assert {env["SEEDSCOPE_DEVICE"] for _, env in commands} == {"cuda"}
    for (command, _), name in zip(commands, ("gpu0@%h", "gpu2@%h"), strict=True):
        assert command[1:4] == ["-m", "worker.cli", "run"]
        assert command[command.index("--concurrency") + 1] == "1"
        assert command[command.index("--hostname") + 1] == name
        assert command[command.index("--loglevel") + 1] == "DEBUG"


class FakeProcess:
    def __init__(self, pid: int, exits_after_polls: int | None, code: int = 0) -> None:
        self.pid, self._left, self._code = pid, exits_after_polls, code
        self.returncode: int | None = None
        self.signals: list[int] = []

    def poll(self) -> int | None:
        if self._left is not None and self.returncode is None:
            self._left -= 1
            if self._left <= 0:
                self.returncode = self._code
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)

    def terminate(self) -> None:
        self.signals.append(signal.SIGTERM)
        self.returncode = -signal.SIGTERM

    def wait(self) -> int | None:
        return self.returncode


def test_when_one_worker_exits_the_others_are_stopped_with_its_status() -> None:
    processes = [FakeProcess(10, None), FakeProcess(11, exits_after_polls=2, code=3), FakeProcess(12, None)]
    launched = iter(processes)
    before = signal.getsignal(signal.SIGTERM)
    status = supervise(gpu_worker_commands(["0", "1", "2"], "INFO"), lambda _c, _e: next(launched))  # type: ignore[arg-type,return-value]
    assert status == 3
    assert processes[0].signals == [signal.SIGTERM] and processes[2].signals == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_gpu_worker_without_a_gpu_refuses_to_start() -> None:
    """On this CPU machine: the worker for "GPU 0" exits with a clear message instead of using the CPU."""
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli", "run", "--gpus", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SEEDSCOPE_DEVICE=cuda but no CUDA device is usable (CUDA_VISIBLE_DEVICES=0" in result.stderr
