"""One benchmark's share of an experiment's results, for experiments evaluated on several."""

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute

from backend.models import Prompt


def on_benchmark(prompt_id: InstrumentedAttribute[int], benchmark_id: int | None) -> ColumnElement[bool]:
    """A condition keeping the rows whose prompt belongs to the benchmark; None keeps every row (an experiment
    with one benchmark has no other prompts, and the filter would only cost)."""
    if benchmark_id is None:
        return true()
    return prompt_id.in_(select(Prompt.id).where(Prompt.benchmark_id == benchmark_id))
