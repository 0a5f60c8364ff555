"""The dashboard's pages: static HTML that fetches the JSON API, and Plotly.js from the plotly package."""

from pathlib import Path

import plotly
from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
# Served from the installed package, not a CDN: users may be offline.
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(FRONTEND / "index.html")


@router.get("/experiments/new")
def new_experiment() -> FileResponse:
    return FileResponse(FRONTEND / "new.html")


@router.get("/experiments/{experiment_id}")
def experiment_page(experiment_id: int) -> FileResponse:
    return FileResponse(FRONTEND / "experiment.html")


@router.get("/runs/{run_id}")
def run_page(run_id: int) -> FileResponse:
    return FileResponse(FRONTEND / "run.html")


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="application/javascript")


def mount_frontend(app: FastAPI) -> None:
    """The pages, Plotly.js, then everything else under frontend/static (the vendor route comes first)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=FRONTEND / "static"), name="static")
