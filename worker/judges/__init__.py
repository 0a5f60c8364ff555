"""Judges resolved by name from backend.catalog.judges, imported only when a worker needs one."""

import importlib
from functools import cache

from backend.catalog.judges import JUDGES
from worker.judges.base import Judge


@cache
def load_judge(name: str) -> Judge:
    """The judge named `name`, built once per worker process (judges hold models)."""
    try:
        entry = JUDGES[name]
    except KeyError:
        raise ValueError(f"unknown judge {name!r}; known judges: {', '.join(sorted(JUDGES))}") from None
    module_name, attribute = entry.factory.split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory()
