"""Typed dependencies and parameters shared by the routers."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.queue import TaskQueue
from backend.services.analysis import Adjustment
from backend.services.cache import AnalysisCache

# The largest key PostgreSQL's BIGINT and SQLite's INTEGER hold: a larger id is a 422 here, not a database
# error. Every integer path or query parameter is bounded (tests/api/test_parameters.py checks the routes).
MAX_ID = 2**63 - 1
# A page beyond this holds nothing in any real experiment, and keeps OFFSET far from overflowing.
MAX_PAGE = 1_000_000


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} is outside the years 1 to 9999 once converted to UTC"
        ) from None


# Every date and time a request body carries: with a UTC offset, and converted to UTC here, so a far
# offset (9999-12-31T23:59:59-23:59) is a 422 rather than an overflow where it is compared or stored.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


# Async, though they do no I/O: FastAPI runs a plain function dependency in its thread pool, a thread hop
# per dependency per request for reading an attribute.
async def _queue(request: Request) -> TaskQueue:
    return request.app.state.queue


async def _analysis_cache(request: Request) -> AnalysisCache:
    return request.app.state.analysis_cache


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(_session)]
QueueDep = Annotated[TaskQueue, Depends(_queue)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CacheDep = Annotated[AnalysisCache, Depends(_analysis_cache)]
PageDep = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSizeDep = Annotated[int, Query(ge=1, le=200)]
AdjustmentDep = Annotated[Adjustment, Query(description="holm, or bh (Benjamini-Hochberg)")]
ExperimentId = Annotated[int, Path(ge=1, le=MAX_ID, description="an experiment's id")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="a run's id")]
PromptId = Annotated[int, Path(ge=1, le=MAX_ID, description="a benchmark prompt's id")]
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="a project's id")]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="a user's id")]
ShareLinkId = Annotated[int, Path(ge=1, le=MAX_ID, description="a share link's id")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="an API token's id")]
JudgeId = Annotated[int, Path(ge=1, le=MAX_ID, description="a judge definition's id")]
ValidationId = Annotated[int, Path(ge=1, le=MAX_ID, description="a judge validation's id")]
SampleId = Annotated[int, Path(ge=1, le=MAX_ID, description="a labelling sample's id")]

BenchmarkDep = Annotated[
    str | None,
    Query(
        description="the benchmark whose prompts the numbers are on, 'name@version' or its name, for an "
        "experiment evaluated on several; default: its first",
        max_length=260,
    ),
]
