"""Where the noise comes from, and how many seeds a comparison needs."""

import plotly.graph_objects as go

from backend.api_models.analysis import IntervalRead, PowerRead, VarianceRead
from backend.figures.common import FigureJSON, as_json, layout, plot_text
from backend.judging.measures import Measure

_SOURCES = [
    ("seed", "training seed"),
    ("prompt", "prompt"),
    ("seed_x_prompt", "seed × prompt"),
    ("sampling", "sampling / re-evaluation"),
]


def _share(v: VarianceRead, key: str) -> IntervalRead | None:
    return getattr(v.shares, key)


def variance_bars(variances: list[VarianceRead], measure: Measure) -> FigureJSON:
    """Share of a verdict's (or score's) variance from each source, grouped per condition, with 95%."""
    names = [plot_text(v.name) for v in variances]
    traces = []
    for key, source in _SOURCES:
        shares = [_share(v, key) for v in variances]
        values = [100 * (s.estimate or 0.0) if s else None for s in shares]
        traces.append(
            go.Bar(
                x=names,
                y=values,
                name=source,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * ((s.high or 0.0) - (s.estimate or 0.0)) if s else 0.0 for s in shares],
                    "arrayminus": [
                        100 * ((s.estimate or 0.0) - (s.low or 0.0)) if s else 0.0 for s in shares
                    ],
                },
                customdata=[
                    [
                        v.n_seeds,
                        v.n_prompts,
                        100 * (s.low or 0.0) if s else 0.0,
                        100 * (s.high or 0.0) if s else 0.0,
                    ]
                    for v, s in zip(variances, shares, strict=True)
                ],
                hovertemplate=(
                    f"%{{x}}: {source} %{{y:.1f}}% of the variance (95%: %{{customdata[2]:.1f}} to "
                    "%{customdata[3]:.1f})<br>%{customdata[0]} seeds × %{customdata[1]} prompts"
                    "<extra></extra>"
                ),
            )
        )
    figure = go.Figure(traces)
    confounded = [plot_text(v.name) for v in variances if v.interaction_confounded]
    note = (
        f" (one {measure.unit} per cell in {', '.join(confounded)}: sampling counted in seed × prompt)"
        if confounded
        else ""
    )
    layout(
        figure,
        f"Variance components of a {measure.unit}" + note,
        barmode="group",
        yaxis={"title": "share of variance (%)", "range": [0, 100]},
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"},
        margin={"t": 60, "l": 70, "r": 20, "b": 110},
    )
    return as_json(figure)


def power_curve(powers: list[PowerRead], measure: Measure) -> FigureJSON:
    """Seeds per fine-tuned condition needed to detect each difference, one line per comparison."""
    figure = go.Figure()
    for power in powers:
        reachable = [p for p in power.curve if p.seeds_needed is not None]
        now = power.now
        figure.add_trace(
            go.Scatter(
                x=[100 * p.difference for p in reachable],
                y=[p.seeds_needed for p in reachable],
                mode="lines+markers",
                name=f"{plot_text(power.a)} − {plot_text(power.b)}",
                hovertemplate=(
                    "%{fullData.name}: detect %{x:.0f} points with %{y} seeds per condition "
                    f"({power.n_prompts} prompts)<extra></extra>"
                ),
            )
        )
        if now is None:  # no reachable difference has 80% power with the seeds as run
            continue
        figure.add_trace(
            go.Scatter(
                x=[100 * now.minimum_detectable_difference],
                y=[now.n_seeds],
                mode="markers",
                marker={"symbol": "diamond", "size": 11, "color": "#b42318"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * (now.high - now.minimum_detectable_difference)],
                    "arrayminus": [100 * (now.minimum_detectable_difference - now.low)],
                },
                name="now: minimum detectable difference (95% range)",
                legendgroup="now",
                showlegend=power is next(p for p in powers if p.now is not None),
                hovertemplate=(
                    f"now, {now.n_seeds} seeds: detects {100 * now.minimum_detectable_difference:.1f} points "
                    f"(95% range {100 * now.low:.1f} to {100 * now.high:.1f})<extra></extra>"
                ),
            )
        )
    layout(
        figure,
        "Seeds needed to detect a difference (80% power, for new seeds)",
        xaxis={"title": f"difference to detect ({measure.points})", "rangemode": "tozero"},
        yaxis={"title": "seeds per fine-tuned condition", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return as_json(figure)
