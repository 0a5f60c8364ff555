"""The app factory: one FastAPI app per Settings, so tests build theirs on a temporary database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.api.auth import SignInRedirect, check_policies
from backend.api.csrf import CrossSiteGuard
from backend.api.routes import (
    account,
    analysis,
    browser,
    catalog,
    experiments,
    judges,
    pages,
    projects,
    runs,
    sharing,
)
from backend.config import Settings
from backend.db import make_engine, make_session_factory, session_scope
from backend.errors import DomainError
from backend.queue import TaskQueue, make_celery
from backend.services.accounts import ensure_local_owner
from backend.services.cache import AnalysisCache
from backend.services.catalog import ensure_builtins


def create_app(settings: Settings | None = None, queue: TaskQueue | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            with session_scope(app.state.session_factory) as session:
                ensure_builtins(session)
                ensure_local_owner(session, settings)
        except (OperationalError, ProgrammingError) as error:
            raise RuntimeError(
                f"the database at {settings.resolved_database_url} has no seedscope tables; "
                "run `seedscope migrate` first"
            ) from error
        yield
        engine.dispose()

    app = FastAPI(
        title="seedscope",
        summary="How much does fine-tuning change an LLM's safety, and how much of that is noise?",
        lifespan=lifespan,
        # Served by backend.api.routes.pages behind sign-in, like everything but the sign-in page.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = make_session_factory(engine)
    app.state.queue = queue or TaskQueue(make_celery(settings))
    app.state.analysis_cache = AnalysisCache()
    app.add_middleware(CrossSiteGuard)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, error: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(SignInRedirect)
    async def _sign_in(_request: Request, redirect: SignInRedirect) -> RedirectResponse:
        return RedirectResponse(f"/login?{urlencode({'next': redirect.next_path})}", status_code=303)

    for router in (
        account.router,
        projects.router,
        catalog.router,
        judges.router,
        experiments.router,
        sharing.router,
        runs.router,
        analysis.router,
        browser.router,
    ):
        app.include_router(router)
    pages.mount_frontend(app)
    check_policies(app)
    return app
