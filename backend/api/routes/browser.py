from typing import Annotated

from fastapi import APIRouter, Depends, Query

from backend.api.auth import Access, InExperiment
from backend.api.deps import BenchmarkDep, CacheDep, ExperimentId, PageDep, PageSizeDep, PromptId, SessionDep
from backend.api_models.base import Page
from backend.api_models.responses import BrowserResponseRead, PromptRowRead
from backend.domain import Role, ShareScope, Verdict
from backend.repositories.browser import BrowserFilter
from backend.services import browser as service

router = APIRouter(prefix="/api/experiments/{experiment_id}/prompts", tags=["per-prompt browser"])
# Prompt and response texts: share links only with the "responses" scope.
TextReaderDep = Annotated[Access, Depends(InExperiment(Role.VIEWER, share=ShareScope.RESPONSES))]


def _filter(
    experiment_id: ExperimentId,
    _: TextReaderDep,
    session: SessionDep,
    cache: CacheDep,
    category: str | None = None,
    condition: Annotated[str | None, Query(description="condition name")] = None,
    verdict: Annotated[
        Verdict | None,
        Query(description="the primary judge's verdict (on a capability or over-refusal set, its scorer's)"),
    ] = None,
    flips_only: Annotated[bool, Query(description="prompts whose verdict changes between seeds")] = False,
    disagreements_only: Annotated[bool, Query(description="responses on which judges disagree")] = False,
    coherence: Annotated[
        service.Coherence | None, Query(description="only responses the coherence rule marks so")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the prompt or a response")] = None,
    benchmark: BenchmarkDep = None,
) -> BrowserFilter:
    return service.make_filter(
        session,
        cache,
        experiment_id,
        category=category,
        condition=condition,
        verdict=verdict,
        flips_only=flips_only,
        disagreements_only=disagreements_only,
        coherence=coherence,
        search=q,
        benchmark=benchmark,
    )


FilterDep = Annotated[BrowserFilter, Depends(_filter)]


@router.get("")
def list_prompts(
    session: SessionDep, cache: CacheDep, selected: FilterDep, page: PageDep = 1, page_size: PageSizeDep = 20
) -> Page[PromptRowRead]:
    """The benchmark's prompts that match the filters, each with its harmfulness rate per condition."""
    return service.prompts(session, cache, selected, page=page, page_size=page_size)


@router.get("/{prompt_id}/responses")
def prompt_responses(
    prompt_id: PromptId,
    session: SessionDep,
    selected: FilterDep,
    page: PageDep = 1,
    page_size: PageSizeDep = 50,
) -> Page[BrowserResponseRead]:
    """Every response to one prompt across conditions, seeds and samples, with every judge's verdict."""
    return service.responses(session, selected, prompt_id, page=page, page_size=page_size)
