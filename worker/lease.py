"""Keeping a run's lease alive while a worker is busy with something that writes nothing for a while."""

import logging
import threading
from types import TracebackType

from worker.store import Lease, RunStore

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews a lease every quarter of its length from a background thread, for as long as the block runs.

    Writes renew the lease too (RunStore._hold); the heartbeat covers the stretches without any: loading
    a model from the hub, a long generation batch. A failed renewal (the database briefly unreachable) is
    retried on the next beat; a refused one means another worker took the run, and the next write stops
    this one (LeaseLost).
    """

    def __init__(self, store: RunStore, lease: Lease) -> None:
        self._store, self._lease = store, lease
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-run-{lease.run_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        # Not waiting long for a renewal stuck on an unreachable database: after the release it is a no-op.
        self._thread.join(timeout=self._lease.seconds / 4)

    def _beat(self) -> None:
        while not self._stopped.wait(self._lease.seconds / 4):
            try:
                if not self._store.renew(self._lease):
                    log.warning("run %s: lease lost to another worker", self._lease.run_id)
                    return
            except Exception as error:  # keep beating: the next write decides whether the run is still ours
                log.warning("run %s: could not renew the lease (%s)", self._lease.run_id, error)
