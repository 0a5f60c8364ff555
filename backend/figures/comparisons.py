"""Forest plot of paired differences in rate (or mean score): both answers, the verdict, adjusted p-values."""

import plotly.graph_objects as go

from backend.api_models.analysis import ComparisonRead
from backend.figures.common import FigureJSON, as_json, layout, plot_text
from backend.judging.measures import Measure

GIVEN_COLOR, NEW_SEEDS_COLOR = "#2f5fd0", "#b42318"


def label(comparison: ComparisonRead) -> str:
    return f"{plot_text(comparison.a)} − {plot_text(comparison.b)}"


def forest(comparisons: list[ComparisonRead], adjustment: str, measure: Measure) -> FigureJSON:
    labels = [label(c) for c in comparisons]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[100 * c.estimate for c in comparisons],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": GIVEN_COLOR},
            name="given these checkpoints: 95% clustered by prompt (evaluation noise)",
            error_x={
                "type": "data",
                "symmetric": False,
                "thickness": 3,
                "width": 0,
                "array": [100 * (c.given_checkpoints.high - c.estimate) for c in comparisons],
                "arrayminus": [100 * (c.estimate - c.given_checkpoints.low) for c in comparisons],
            },
            customdata=[
                [c.given_checkpoints.p_value, c.given_checkpoints.p_adjusted, c.n_prompts]
                for c in comparisons
            ],
            hovertemplate=(
                "%{y}: %{x:.1f} points<br>given these checkpoints: permutation p = %{customdata[0]:.3g}, "
                f"adjusted %{{customdata[1]:.3g}} ({adjustment})<br>%{{customdata[2]}} prompts<extra></extra>"
            ),
        )
    )
    seed_aware = [c for c in comparisons if c.new_seeds is not None]
    figure.add_trace(
        go.Scatter(
            x=[100 * c.estimate for c in seed_aware],
            y=[label(c) for c in seed_aware],
            mode="markers",
            marker={"size": 1, "color": NEW_SEEDS_COLOR},
            name="for new seeds: 95% with training noise",
            error_x={
                "type": "data",
                "symmetric": False,
                "thickness": 1.5,
                "width": 8,
                "array": [100 * (c.new_seeds.high - c.estimate) for c in seed_aware if c.new_seeds],
                "arrayminus": [100 * (c.estimate - c.new_seeds.low) for c in seed_aware if c.new_seeds],
            },
            customdata=[
                [c.new_seeds.p_value, c.new_seeds.p_adjusted, c.seeds_a, c.seeds_b]
                for c in seed_aware
                if c.new_seeds
            ],
            hovertemplate=(
                "%{y}: for new seeds, p = %{customdata[0]:.3g}, adjusted %{customdata[1]:.3g}"
                f" ({adjustment})<br>%{{customdata[2]}} vs %{{customdata[3]}} seeds<extra></extra>"
            ),
        )
    )
    for c, text in zip(comparisons, labels, strict=True):
        p_adjusted = c.new_seeds.p_adjusted if c.new_seeds else c.given_checkpoints.p_adjusted
        note = c.verdict if c.verdict == "cannot tell" else f"{c.verdict}, p<sub>adj</sub>={p_adjusted:.2g}"
        figure.add_annotation(
            x=1.0, xref="paper", xanchor="left", y=text, text=note, showarrow=False, font={"size": 11}
        )
    figure.add_vline(x=0, line_dash="dot", line_color="#6b7280")
    layout(
        figure,
        f"Paired differences: {measure.in_a_sentence} (p-values adjusted: {adjustment})",
        xaxis={"title": f"difference ({measure.points})", "zeroline": False},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 60, "l": 160, "r": 190, "b": 90},
        height=max(320, 140 + 45 * len(comparisons)),
    )
    return as_json(figure)
