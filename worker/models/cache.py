"""One loaded base model per worker process, reused across the stages and runs that use it."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from backend.config import Settings
from worker.models.files import weights_sha256
from worker.models.sources import LoadedModel, load_base_model


class ModelCache:
    """Keeps the base model a worker process loaded last, for the next stage or run of the same model.

    Loading costs seconds to minutes (an 8B model reads 16 GB), and a worker runs many runs of one base
    model. Stages attach an adapter for their work and remove it afterwards, never merging it, so the
    cached weights stay the base model's (worker.pipeline). One model at a time: on a GPU worker it fills
    the card. A local model directory whose weight files change on disk is loaded again.
    """

    def __init__(self) -> None:
        self._key: tuple[str, str | None, str] | None = None
        self._loaded: LoadedModel | None = None

    @contextmanager
    def borrow(
        self, reference: str, revision: str | None, settings: Settings, device: torch.device
    ) -> Iterator[LoadedModel]:
        """The cached model for one stage. If the stage fails the model is dropped: an adapter may still
        be attached to it, and a fresh load is cheaper than a wrong result."""
        key = (reference, revision, str(device))
        if self._loaded is None or self._key != key or not _unchanged_on_disk(self._loaded):
            self.clear()
            self._loaded = load_base_model(reference, revision, settings, device)
            self._key = key
        try:
            yield self._loaded
        except BaseException:
            self.clear()
            raise

    def clear(self) -> None:
        """Drop the cached model and give its memory back."""
        self._key, self._loaded = None, None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _unchanged_on_disk(loaded: LoadedModel) -> bool:
    recorded = loaded.source.weights_sha256
    if recorded is None:  # from the hub: pinned by its revision
        return True
    return weights_sha256(Path(loaded.source.path)) == recorded
