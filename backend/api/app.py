"""The app factory: one FastAPI app per Settings, so tests build theirs on a temporary database."""

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from backend.api.auth import SignInRedirect, check_policies
from backend.api.csrf import CrossSiteGuard
from backend.api.error_pages import error_page, wants_page
from backend.api.middleware import (
    SECURITY_HEADERS,
    BodySizeLimit,
    HostAllowlist,
    NoNulInUrl,
    SecurityHeaders,
    StrictJsonBodies,
)
from backend.api.openapi import document_errors
from backend.api.routes import (
    account,
    analysis,
    browser,
    catalog,
    experiments,
    exports,
    judges,
    labelling,
    pages,
    projects,
    runs,
    sharing,
    stress_tests,
)
from backend.config import Settings
from backend.db import make_engine, make_session_factory, redact, redacted_url, session_scope
from backend.errors import DomainError, database_reason, from_database_error
from backend.queue import TaskQueue, make_celery
from backend.redirects import same_site_path
from backend.services.accounts import ensure_local_owner
from backend.services.cache import AnalysisCache
from backend.services.catalog import ensure_builtins

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, queue: TaskQueue | None = None) -> FastAPI:
    settings = settings or Settings()
    database_url = settings.resolved_database_url
    engine = make_engine(database_url, settings.database_connect_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            with session_scope(app.state.session_factory) as session:
                ensure_builtins(session)
                ensure_local_owner(session, settings)
        except (OperationalError, ProgrammingError) as error:
            reason = redact(database_reason(error), database_url)
            raise RuntimeError(
                f"cannot use the database at {redacted_url(database_url)} ({reason}): is it running, and "
                "has `seedscope migrate` created its tables?"
            ) from None
        yield
        engine.dispose()

    app = FastAPI(
        title="seedscope",
        summary="How much does fine-tuning change an LLM's safety, and how much of that is noise?",
        lifespan=lifespan,
        # Served by backend.api.routes.pages behind sign-in, from a local Swagger UI (no CDN).
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
    async def _domain_error(request: Request, error: DomainError) -> Response:
        if wants_page(request):
            return error_page(error.status_code, str(error), error.headers)
        return JSONResponse({"detail": str(error)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(SignInRedirect)
    async def _sign_in(_request: Request, redirect: SignInRedirect) -> RedirectResponse:
        query = urlencode({"next": same_site_path(redirect.next_path)})
        return RedirectResponse(f"/login?{query}", status_code=303)

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(request: Request, error: SQLAlchemyError) -> JSONResponse:
        translated = from_database_error(error)
        if translated is None:
            raise error
        detail = redact(str(translated), database_url)
        log.warning("%s %s: %s", request.method, request.url.path, detail)
        return JSONResponse({"detail": detail}, status_code=translated.status_code)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, error: Exception) -> JSONResponse:
        # Starlette answers an unhandled exception outside every middleware (and raises it again for the
        # server's log), so the security headers are set here; the body names no internals, only an
        # incident number that is also in the log.
        incident = secrets.token_hex(4)
        log.error("incident %s: %s %s failed", incident, request.method, request.url.path, exc_info=error)
        detail = f"internal server error (incident {incident}); the details are in the server's log"
        return JSONResponse({"detail": detail}, status_code=500, headers=SECURITY_HEADERS)

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
        exports.router,
        labelling.router,
        stress_tests.router,
    ):
        app.include_router(router)
    pages.mount_frontend(app)
    check_policies(app)
    document_errors(app)
    # The last added runs first: every response gets the headers, then the Host is checked, then the
    # URL, the body size and a JSON body's strictness; the cross-site guard (added first) runs last.
    app.add_middleware(StrictJsonBodies)
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(NoNulInUrl)
    app.add_middleware(HostAllowlist, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    return app
