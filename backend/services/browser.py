"""The per-prompt browser: the experiment's filters resolved, then the repository's pages."""

from typing import Literal

from sqlalchemy.orm import Session

from backend.api_models.base import Page
from backend.api_models.responses import BrowserResponseRead, PromptRowRead
from backend.domain import Verdict
from backend.errors import InvalidInput
from backend.repositories import browser as repository
from backend.services.analysis import benchmark_of
from backend.services.cache import AnalysisCache
from backend.services.experiment_state import current_state, read_experiment

# The coherence rule's mark a browser may be narrowed to (worker.coherence).
Coherence = Literal["coherent", "incoherent"]


def make_filter(
    session: Session,
    cache: AnalysisCache,
    experiment_id: int,
    *,
    category: str | None = None,
    condition: str | None = None,
    verdict: Verdict | None = None,
    flips_only: bool = False,
    disagreements_only: bool = False,
    coherence: Coherence | None = None,
    search: str | None = None,
    benchmark: str | None = None,
) -> repository.BrowserFilter:
    state = current_state(session, experiment_id)
    experiment = read_experiment(session, cache, experiment_id, state)
    chosen = benchmark_of(experiment, benchmark)
    if condition is not None and condition not in {c.name for c in experiment.conditions}:
        raise InvalidInput(f"no condition named {condition!r} in experiment {experiment_id}")
    return repository.BrowserFilter(
        experiment_id=experiment_id,
        benchmark_id=chosen.id,
        # A capability or over-refusal set is judged by its scorer alone (worker.store._judge_scopes).
        judge_id=chosen.scorer_id or experiment.judges[0].id,
        category=category or None,
        condition=condition or None,
        verdict=verdict,
        flips_only=flips_only,
        disagreements_only=disagreements_only,
        incoherent=None if coherence is None else coherence == "incoherent",
        search=(search or "").strip() or None,
        several_benchmarks=len(experiment.benchmarks) > 1,
        data_version=state.data_version,
    )


def prompts(
    session: Session, cache: AnalysisCache, selected: repository.BrowserFilter, *, page: int, page_size: int
) -> Page[PromptRowRead]:
    flipping = None
    if selected.flips_only:
        # Memoised on the experiment's data, not its rescorings' progress: the browser's judge is never one
        # still rescoring (services.rescoring.choose_headline), so an open dashboard pages through the flips
        # without aggregating every prompt cell again while a judge added later judges a million responses.
        key = (selected.benchmark_id, selected.judge_id, selected.condition, selected.several_benchmarks)
        flipping = cache.get(
            ("flipping prompts", selected.experiment_id, selected.data_version, key),
            lambda: repository.flipping_prompts(session, selected),
        )
    return repository.prompt_page(session, selected, page=page, page_size=page_size, flipping=flipping)


def responses(
    session: Session, selected: repository.BrowserFilter, prompt_id: int, *, page: int, page_size: int
) -> Page[BrowserResponseRead]:
    return repository.response_page(session, selected, prompt_id, page=page, page_size=page_size)
