"""The dashboard's pages: static HTML that fetches the JSON API, and the JavaScript they need, served from
installed packages rather than a CDN (users may be offline): Plotly.js from `plotly`, Swagger UI for the API
docs from `swagger-ui-bundle-v2`."""

from pathlib import Path

import plotly
import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from backend.api.deps import ExperimentId, RunId

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(FRONTEND / name)


@router.get("/")
def index() -> FileResponse:
    return _page("index.html")


@router.get("/experiments/new")
def new_experiment() -> FileResponse:
    return _page("new.html")


@router.get("/experiments/{experiment_id}")
def experiment_page(experiment_id: ExperimentId) -> FileResponse:
    return _page("experiment.html")


@router.get("/runs/{run_id}")
def run_page(run_id: RunId) -> FileResponse:
    return _page("run.html")


@router.get("/datasets")
def datasets_page() -> FileResponse:
    return _page("datasets.html")


@router.get("/docs")
def api_docs() -> FileResponse:
    """Swagger UI on /openapi.json. (FastAPI's own /docs and /redoc load their scripts from a CDN; ReDoc
    ships in no Python package, so there is no /redoc.)"""
    return _page("docs.html")


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="application/javascript")


@router.get("/static/vendor/swagger-ui-bundle.js")
def swagger_ui_js() -> FileResponse:
    return FileResponse(SWAGGER_UI / "swagger-ui-bundle.js", media_type="application/javascript")


@router.get("/static/vendor/swagger-ui.css")
def swagger_ui_css() -> FileResponse:
    return FileResponse(SWAGGER_UI / "swagger-ui.css", media_type="text/css")


def mount_frontend(app: FastAPI) -> None:
    """The pages and vendored scripts, then everything else under frontend/static (routes match first)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=FRONTEND / "static"), name="static")
