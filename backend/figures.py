"""Plotly figures built from read models: pure functions, sent to the page as JSON."""

import json
from typing import Any

import plotly.graph_objects as go

from backend.schemas import ExperimentRead, RateRead, RunRead

_POINT_SPREAD = 0.25  # horizontal room for the seeds of one condition, in category widths


def _as_json(figure: go.Figure) -> dict[str, Any]:
    return json.loads(figure.to_json())


def _offsets(n: int) -> list[float]:
    """Deterministic horizontal positions for n points around a category's centre (no random jitter)."""
    if n == 1:
        return [0.0]
    return [-_POINT_SPREAD + 2 * _POINT_SPREAD * i / (n - 1) for i in range(n)]


def _rated_runs(experiment: ExperimentRead, condition_id: int) -> list[tuple[RunRead, RateRead]]:
    """The condition's runs that have a rate yet (a running experiment shows what it has), by seed."""
    runs = [r for r in experiment.runs if r.condition_id == condition_id]
    return [(r, r.rate) for r in sorted(runs, key=lambda r: r.seed) if r.rate and r.rate.rate is not None]


def rates_by_condition(experiment: ExperimentRead) -> dict[str, Any]:
    """Every run's harmfulness rate (a point per seed, Wilson 95% bar), a box per condition."""
    figure = go.Figure()
    names = [c.name for c in experiment.conditions]
    for index, condition in enumerate(experiment.conditions):
        points = _rated_runs(experiment, condition.id)
        percent = [100 * rate.rate for _, rate in points if rate.rate is not None]
        if len(points) > 1:
            figure.add_trace(
                go.Box(
                    x=[index] * len(points),
                    y=percent,
                    name=condition.name,
                    boxpoints=False,
                    width=0.7,
                    line={"width": 1},
                    opacity=0.5,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        figure.add_trace(
            go.Scatter(
                x=[index + dx for dx in _offsets(len(points))],
                y=percent,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        100 * (rate.high or 0) - p for (_, rate), p in zip(points, percent, strict=True)
                    ],
                    "arrayminus": [
                        p - 100 * (rate.low or 0) for (_, rate), p in zip(points, percent, strict=True)
                    ],
                    "thickness": 1,
                    "width": 3,
                },
                mode="markers",
                marker={"size": 9},
                name=condition.name,
                customdata=[
                    [
                        run.id,
                        run.seed,
                        rate.harmful,
                        rate.harmful + rate.safe,
                        rate.unscored,
                        run.status.value,
                    ]
                    for run, rate in points
                ],
                hovertemplate=(
                    "run %{customdata[0]} (seed %{customdata[1]}, %{customdata[5]})<br>"
                    "harmful %{y:.1f}%: %{customdata[2]} of %{customdata[3]} scored"
                    " (+%{customdata[4]} unscored)<extra>%{fullData.name}</extra>"
                ),
            )
        )
    figure.update_layout(
        title="Harmfulness rate per run (points: seeds; bars: Wilson 95% intervals)",
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(len(names))),
            "ticktext": names,
            "title": "condition",
        },
        yaxis={"title": "harmful responses (%)", "rangemode": "tozero"},
        margin={"t": 50, "l": 60, "r": 20, "b": 60},
        template="plotly_white",
    )
    return _as_json(figure)
