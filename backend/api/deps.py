"""Typed dependencies shared by the routers."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.queue import TaskQueue
from backend.services.cache import AnalysisCache


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


def _queue(request: Request) -> TaskQueue:
    return request.app.state.queue


def _analysis_cache(request: Request) -> AnalysisCache:
    return request.app.state.analysis_cache


def _settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(_session)]
QueueDep = Annotated[TaskQueue, Depends(_queue)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CacheDep = Annotated[AnalysisCache, Depends(_analysis_cache)]
PageDep = Annotated[int, Query(ge=1, description="1-based page number")]
PageSizeDep = Annotated[int, Query(ge=1, le=200)]
