"""Where the noise comes from, and how many seeds a comparison needs."""

import plotly.graph_objects as go

from backend.figures.common import FigureJSON, as_json, layout, plot_text
from backend.schemas import PowerRead, VarianceRead

_SOURCES = [
    ("seed", "training seed"),
    ("prompt", "prompt"),
    ("seed_x_prompt", "seed × prompt"),
    ("sampling", "sampling / re-evaluation"),
]


def variance_bars(variances: list[VarianceRead]) -> FigureJSON:
    """Share of verdict variance from each source, a stacked bar per condition."""
    names = [plot_text(v.name) for v in variances]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=[100 * (getattr(v.shares, key) or 0.0) for v in variances],
                name=label,
                customdata=[
                    [v.n_seeds, v.n_prompts, v.icc_seed, v.interaction_confounded] for v in variances
                ],
                hovertemplate=(
                    f"%{{x}}: {label} %{{y:.1f}}% of the variance<br>%{{customdata[0]}} seeds × "
                    "%{customdata[1]} prompts; seed ICC %{customdata[2]:.3f}<extra></extra>"
                ),
            )
            for key, label in _SOURCES
        ]
    )
    confounded = [plot_text(v.name) for v in variances if v.interaction_confounded]
    note = (
        f" (one verdict per cell in {', '.join(confounded)}: sampling counted in seed × prompt)"
        if confounded
        else ""
    )
    layout(
        figure,
        "Variance components of a verdict" + note,
        barmode="stack",
        yaxis={"title": "share of variance (%)", "range": [0, 100]},
        legend={"orientation": "h", "y": -0.15, "yanchor": "top"},
        margin={"t": 60, "l": 70, "r": 20, "b": 110},
    )
    return as_json(figure)


def power_curve(power: PowerRead) -> FigureJSON:
    reachable = [p for p in power.curve if p.seeds_needed is not None]
    figure = go.Figure(
        go.Scatter(
            x=[100 * p.difference for p in reachable],
            y=[p.seeds_needed for p in reachable],
            mode="lines+markers",
            name="seeds per condition for 80% power",
            hovertemplate=(
                "detect %{x:.0f} points: %{y} seeds per condition"
                f" ({power.n_prompts} prompts, {power.n_samples} samples)<extra></extra>"
            ),
        )
    )
    if power.minimum_detectable_difference is not None:
        figure.add_vline(
            x=100 * power.minimum_detectable_difference,
            line_dash="dash",
            line_color="#b42318",
            annotation_text=(
                f"now, {power.n_seeds} seeds: {100 * power.minimum_detectable_difference:.1f} points"
            ),
        )
    layout(
        figure,
        f"Seeds needed to detect a difference (from {', '.join(map(plot_text, power.based_on))})",
        xaxis={"title": "difference to detect (percentage points)"},
        yaxis={"title": "seeds per condition", "rangemode": "tozero"},
    )
    return as_json(figure)
