"""The dashboard's pages: static HTML that fetches the JSON API, and the JavaScript they need, served from
installed packages rather than a CDN (users may be offline): Plotly.js from `plotly`, Swagger UI for the API
docs from `swagger-ui-bundle-v2`.

Pages hold no data (the API calls they make are authorised one by one), but they too declare a policy:
signed-in pages send anonymous visitors to /login, and a page of another project's experiment is a 404.
"""

from pathlib import Path
from typing import Annotated

import plotly
import swagger_ui_bundle
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from backend.api.auth import (
    InExperiment,
    InRun,
    InValidation,
    Public,
    SharePage,
    SignedIn,
    SignedInDep,
)
from backend.api.deps import ExperimentId, RunId, SampleId, SessionDep, ValidationId
from backend.api_models.accounts import ShareGrantRead
from backend.domain import Role, ShareScope
from backend.errors import NotFound
from backend.repositories import projects as project_repository

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)
PUBLIC = [Depends(Public())]
SIGNED_IN = [Depends(SignedIn(page=True))]


def _page(name: str) -> FileResponse:
    # Never from the browser's cache: whether a page may be seen is decided anew on each visit (a revoked
    # share link, a member removed from the project).
    return FileResponse(FRONTEND / name, headers={"cache-control": "no-store"})


@router.get("/login", dependencies=PUBLIC)
def login_page() -> FileResponse:
    return _page("login.html")


@router.get("/", dependencies=SIGNED_IN)
def index() -> FileResponse:
    return _page("index.html")


@router.get("/experiments/new", dependencies=SIGNED_IN)
def new_experiment() -> FileResponse:
    return _page("new.html")


@router.get("/experiments/{experiment_id}", dependencies=[Depends(InExperiment(Role.VIEWER, page=True))])
def experiment_page(experiment_id: ExperimentId) -> FileResponse:
    return _page("experiment.html")


@router.get(
    "/experiments/{experiment_id}/labelling/{sample_id}",
    dependencies=[Depends(InExperiment(Role.VIEWER, page=True))],
)
def labelling_page(experiment_id: ExperimentId, sample_id: SampleId) -> FileResponse:
    return _page("labelling.html")


@router.get("/runs/{run_id}", dependencies=[Depends(InRun(Role.VIEWER, page=True))])
def run_page(run_id: RunId) -> FileResponse:
    return _page("run.html")


@router.get("/datasets", dependencies=SIGNED_IN)
def datasets_page() -> FileResponse:
    return _page("datasets.html")


@router.get("/judges", dependencies=SIGNED_IN)
def judges_page() -> FileResponse:
    return _page("judges.html")


@router.get("/validations/{validation_id}", dependencies=[Depends(InValidation(Role.VIEWER, page=True))])
def validation_page(validation_id: ValidationId) -> FileResponse:
    return _page("validation.html")


@router.get("/projects", dependencies=SIGNED_IN)
def projects_page() -> FileResponse:
    return _page("projects.html")


@router.get("/account", dependencies=SIGNED_IN)
def account_page() -> FileResponse:
    return _page("account.html")


@router.get("/share/{token}")
def shared_experiment_page(
    _: Annotated[ShareGrantRead, Depends(SharePage(ShareScope.FIGURES))],
) -> FileResponse:
    """The dashboard of the link's experiment, for someone without an account."""
    return _page("experiment.html")


@router.get("/share/{token}/runs/{run_id}")
def shared_run_page(
    run_id: RunId,
    grant: Annotated[ShareGrantRead, Depends(SharePage(ShareScope.RESPONSES))],
    session: SessionDep,
) -> FileResponse:
    owner = project_repository.experiment_of_run(session, run_id)
    if owner is None or owner[1] != grant.experiment_id:
        raise NotFound(f"run {run_id} not found")
    return _page("run.html")


@router.get("/openapi.json")
def openapi(request: Request, _: SignedInDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=SIGNED_IN)
def api_docs() -> FileResponse:
    """Swagger UI on /openapi.json. (FastAPI's own /docs and /redoc load their scripts from a CDN; ReDoc
    ships in no Python package, so there is no /redoc.)"""
    return _page("docs.html")


@router.get("/static/vendor/plotly.min.js", dependencies=PUBLIC)
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="application/javascript")


@router.get("/static/vendor/swagger-ui-bundle.js", dependencies=PUBLIC)
def swagger_ui_js() -> FileResponse:
    return FileResponse(SWAGGER_UI / "swagger-ui-bundle.js", media_type="application/javascript")


@router.get("/static/vendor/swagger-ui.css", dependencies=PUBLIC)
def swagger_ui_css() -> FileResponse:
    return FileResponse(SWAGGER_UI / "swagger-ui.css", media_type="text/css")


def mount_frontend(app: FastAPI) -> None:
    """The pages, Plotly.js, then everything else under frontend/static (the vendor route comes first)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=FRONTEND / "static"), name="static")
