"""Forest plot of paired differences in harmfulness rate, with both intervals and adjusted p-values."""

import plotly.graph_objects as go

from backend.figures.common import FigureJSON, as_json, layout, plot_text
from backend.schemas import ComparisonRead


def _label(comparison: ComparisonRead) -> str:
    return f"{plot_text(comparison.a)} − {plot_text(comparison.b)}"


def forest(comparisons: list[ComparisonRead], adjustment: str) -> FigureJSON:
    labels = [_label(c) for c in comparisons]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[100 * c.estimate for c in comparisons],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": "#2f5fd0"},
            name="prompt-clustered 95% (evaluation noise)",
            error_x={
                "type": "data",
                "symmetric": False,
                "thickness": 3,
                "width": 0,
                "array": [100 * (c.prompt_high - c.estimate) for c in comparisons],
                "arrayminus": [100 * (c.estimate - c.prompt_low) for c in comparisons],
            },
            customdata=[[c.p_value, c.p_adjusted, c.n_prompts] for c in comparisons],
            hovertemplate=(
                "%{y}: %{x:.1f} points<br>p = %{customdata[0]:.3g}, adjusted %{customdata[1]:.3g}"
                f" ({adjustment})<br>%{{customdata[2]}} prompts<extra></extra>"
            ),
        )
    )
    seed_aware = [c for c in comparisons if c.seed_low is not None and c.seed_high is not None]
    figure.add_trace(
        go.Scatter(
            x=[100 * c.estimate for c in seed_aware],
            y=[_label(c) for c in seed_aware],
            mode="markers",
            marker={"size": 1, "color": "#b42318"},
            name="seed-aware 95% (training + evaluation noise)",
            error_x={
                "type": "data",
                "symmetric": False,
                "thickness": 1,
                "width": 8,
                "array": [100 * ((c.seed_high or 0) - c.estimate) for c in seed_aware],
                "arrayminus": [100 * (c.estimate - (c.seed_low or 0)) for c in seed_aware],
            },
            customdata=[[c.n_seed_clusters] for c in seed_aware],
            hovertemplate="%{y}: seed-aware interval, %{customdata[0]} seed clusters<extra></extra>",
        )
    )
    for c, label in zip(comparisons, labels, strict=True):
        figure.add_annotation(
            x=1.0,
            xref="paper",
            xanchor="left",
            y=label,
            text=f"p<sub>adj</sub>={c.p_adjusted:.2g}",
            showarrow=False,
            font={"size": 11},
        )
    figure.add_vline(x=0, line_dash="dot", line_color="#6b7280")
    layout(
        figure,
        f"Paired differences in harmfulness rate (p-values adjusted: {adjustment})",
        xaxis={"title": "difference (percentage points)", "zeroline": False},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 60, "l": 160, "r": 80, "b": 70},
        height=max(340, 150 + 45 * len(comparisons)),
    )
    return as_json(figure)
