"""Harmfulness rate across seeds per condition: the figure the whole product is about."""

import plotly.graph_objects as go

from backend.api_models.analysis import ConditionSummaryRead
from backend.figures.common import (
    FigureJSON,
    as_json,
    layout,
    partial_note,
    percent,
    plot_text,
)
from backend.judging.measures import Measure

_SPREAD = 0.22  # horizontal room for one condition's seeds, in category widths
_MEAN_OFFSET = 0.38


def _offsets(n: int) -> list[float]:
    """Deterministic positions for n points around a category's centre (no random jitter)."""
    return [0.0] if n == 1 else [-_SPREAD + 2 * _SPREAD * i / (n - 1) for i in range(n)]


def seed_distribution(conditions: list[ConditionSummaryRead], measure: Measure) -> FigureJSON:
    """A point per seed (bars: min-max over re-evaluations of that checkpoint when there are some, else the
    Wilson 95% interval), a box per condition, the mean with its t-interval, and the baseline's level."""
    figure = go.Figure()
    suffix = measure.suffix
    for index, condition in enumerate(conditions):
        name = plot_text(condition.name)
        rates = [100 * p.rate for p in condition.seeds]
        if len(rates) > 1:
            figure.add_trace(
                go.Box(
                    x=[index] * len(rates),
                    y=rates,
                    name=name,
                    boxpoints=False,
                    width=0.6,
                    line={"width": 1},
                    opacity=0.45,
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        repeats = {r.run_id: r for r in condition.repeats}
        highs, lows, bar_kinds = [], [], []
        for point in condition.seeds:
            repeat = repeats.get(point.run_id)
            high, low = (repeat.max, repeat.min) if repeat else (point.high, point.low)
            highs.append(100 * (high - point.rate))
            lows.append(100 * (point.rate - low))
            bar_kinds.append(
                f"min-max of {repeat.n_evaluations} evaluations" if repeat else "run's 95% interval"
            )
        figure.add_trace(
            go.Scatter(
                x=[index + dx for dx in _offsets(len(rates))],
                y=rates,
                mode="markers",
                # Seeds added by an extension are open markers: they joined the analysis later.
                marker={
                    "size": 10,
                    "symbol": ["circle-open" if p.added_in else "circle" for p in condition.seeds],
                },
                name=name,
                error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows, "width": 3},
                customdata=[
                    [
                        p.run_id,
                        p.seed,
                        p.n_scored,
                        kind,
                        f"added by extension {p.added_in}" if p.added_in else "submitted",
                    ]
                    for p, kind in zip(condition.seeds, bar_kinds, strict=True)
                ],
                hovertemplate=(
                    "run %{customdata[0]}, seed %{customdata[1]} (%{customdata[4]})<br>"
                    f"{measure.value} %{{y:.1f}}{suffix} of %{{customdata[2]}} scored<br>"
                    "bar: %{customdata[3]}<br>click to see its responses<extra>%{fullData.name}</extra>"
                ),
            )
        )
        if condition.mean is not None and condition.low is not None and condition.high is not None:
            figure.add_trace(
                go.Scatter(
                    x=[index + _MEAN_OFFSET],
                    y=[100 * condition.mean],
                    mode="markers",
                    marker={"symbol": "diamond", "size": 9, "color": "#1f2430"},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "width": 5,
                        "array": [100 * (condition.high - condition.mean)],
                        "arrayminus": [100 * (condition.mean - condition.low)],
                    },
                    name="mean, t 95% interval",
                    legendgroup="mean",
                    showlegend=index == 0,
                    customdata=[[name, len(rates), 100 * condition.low, 100 * condition.high]],
                    hovertemplate=(
                        f"%{{customdata[0]}}: mean %{{y:.1f}}{suffix} over %{{customdata[1]}} seeds<br>"
                        f"t 95%: %{{customdata[2]:.1f}}{suffix} to %{{customdata[3]:.1f}}{suffix}"
                        "<extra></extra>"
                    ),
                )
            )
    baseline = next((c for c in conditions if c.is_baseline and c.mean is not None), None)
    if baseline is not None and baseline.mean is not None:
        figure.add_hline(
            y=100 * baseline.mean,
            line_dash="dash",
            line_color="#6b7280",
            annotation_text=f"baseline {100 * baseline.mean:.1f}{suffix}",
            annotation_position="top left",
        )
    done, total = sum(c.runs_done for c in conditions), sum(c.runs_total for c in conditions)
    layout(
        figure,
        f"{measure.title} per seed" + partial_note(done, total),
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(len(conditions))),
            "ticktext": [plot_text(c.name) for c in conditions],
            "title": "condition",
        },
        yaxis={"title": measure.axis, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2, "yanchor": "top"},
        margin={"t": 60, "l": 70, "r": 20, "b": 110},
    )
    return as_json(figure)


def evaluation_vs_training_noise(conditions: list[ConditionSummaryRead], measure: Measure) -> FigureJSON:
    """Per condition, the SD between seeds next to the SD between re-evaluations of one checkpoint."""
    names = [plot_text(c.name) for c in conditions]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=[percent(c.sd) for c in conditions],
                name="between seeds (training noise)",
                hovertemplate="%{x}: SD %{y:.2f} points between seeds<extra></extra>",
            ),
            go.Bar(
                x=names,
                y=[percent(c.evaluation_sd) for c in conditions],
                name="between re-evaluations of a checkpoint (evaluation noise)",
                hovertemplate="%{x}: mean SD %{y:.2f} points between re-evaluations<extra></extra>",
            ),
        ]
    )
    layout(
        figure,
        f"Training noise vs evaluation noise (SD of the {measure.in_a_sentence})",
        barmode="group",
        yaxis={"title": f"SD ({measure.points})", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"},
        margin={"t": 60, "l": 70, "r": 20, "b": 110},
    )
    return as_json(figure)
