"""Adapters live on storage all workers share; a worker says at startup when its storage cannot be that."""

import logging
import uuid
from pathlib import Path

from backend.config import Settings
from worker.pipeline import has_adapter
from worker.store import RunStore

log = logging.getLogger(__name__)

# Filesystems that are local to one host: fine when every worker runs on it, not across hosts.
LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "f2fs", "apfs"}
# How many recently trained runs to look for.
SAMPLE = 20


def check_artifacts_storage(settings: Settings, store: RunStore) -> list[str]:
    """What is wrong with this worker's artifacts directory, as messages for the log (empty: all well).

    Checks that it is writable, that it holds the adapters of runs the database says were trained (else
    other workers write elsewhere), and, on a deployment that can span hosts (not SQLite), that it is not
    on a host-local filesystem.
    """
    directory = settings.artifacts_dir.resolve()
    problems = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        problems.append(f"{directory} is not writable ({error}): this worker cannot save adapters")
    missing = [run_id for run_id in store.trained_run_ids(SAMPLE) if not has_adapter(settings, run_id)]
    if missing:
        problems.append(
            f"the adapters of trained runs {', '.join(map(str, missing))} are not in {directory}: this "
            "worker does not see the directory the other workers write to; mount the same shared storage "
            "on every worker host at SEEDSCOPE_HOME"
        )
    filesystem = filesystem_type(directory)
    if not settings.resolved_database_url.startswith("sqlite") and filesystem in LOCAL_FILESYSTEMS:
        problems.append(
            f"the artifacts directory {directory} is on a host-local filesystem ({filesystem}): fine while "
            "every worker runs on this host; workers on other hosts need it on shared storage (e.g. NFS)"
        )
    return problems


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem `path` is on, from /proc/mounts (None where there is none)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in mounts:
        fields = line.split()
        inside = len(fields) >= 3 and (str(path) + "/").startswith(fields[1].rstrip("/") + "/")
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind
