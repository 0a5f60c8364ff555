"""Small file helpers for caches several worker processes may fill at once."""

import fcntl
import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an OS file lock: one process prepares a cached model, the others wait for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_directory(staging: Path, final: Path) -> None:
    """Move a fully written directory into place, so readers never see a half-written one."""
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)


@cache
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(directory: Path) -> str:
    """One sha256 over a model directory's weight files (name and content), cached per file version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        stat = path.stat()
        digest.update(
            f"{path.relative_to(directory)}:{_sha256_of(path, stat.st_size, stat.st_mtime_ns)}\n".encode()
        )
    return "sha256:" + digest.hexdigest()
