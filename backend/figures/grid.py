"""A grid's headline figure: how far each setup change moves the rate, beside how far seeds and
re-measurement move it."""

import plotly.graph_objects as go

from backend.api_models.analysis import GridRead
from backend.figures.common import FigureJSON, as_json, layout, plot_text
from backend.judging.measures import Measure

_SETUP, _NOISE = "#1f6feb", "#8c959f"


def setup_vs_seed_spread(grid: GridRead, measure: Measure) -> FigureJSON:
    """One bar per factor (the SD of its level means), then the seed SD and the re-measurement SD."""
    rows = [(plot_text(f.factor), 100 * f.setup_sd, _SETUP, f"{len(f.levels)} levels") for f in grid.factors]
    if grid.seed_sd is not None:
        rows.append(("seeds (pooled)", 100 * grid.seed_sd, _NOISE, "SD of a condition's rate across seeds"))
    if grid.remeasurement_sd is not None:
        rows.append(
            (
                "re-measurement",
                100 * grid.remeasurement_sd,
                _NOISE,
                "SD between re-evaluations of a checkpoint",
            )
        )
    rows.reverse()  # Plotly draws the first row at the bottom
    figure = go.Figure(
        go.Bar(
            x=[value for _, value, _, _ in rows],
            y=[name for name, _, _, _ in rows],
            orientation="h",
            marker={"color": [color for _, _, color, _ in rows]},
            customdata=[[what] for _, _, _, what in rows],
            hovertemplate=f"%{{y}}: SD %{{x:.1f}} {measure.points} (%{{customdata[0]}})<extra></extra>",
        )
    )
    layout(
        figure,
        "Setup spread vs seed spread",
        xaxis={"title": f"SD ({measure.points})", "rangemode": "tozero"},
        yaxis={"automargin": True},
        height=max(300, 140 + 50 * len(rows)),
    )
    return as_json(figure)
