"""Where harm concentrates: condition x category, and which prompts flip between seeds."""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from backend.figures.common import FigureJSON, as_json, hover_text, layout, plot_text
from backend.judging.measures import Measure
from backend.stats.cells import Cells
from backend.stats.prompts import PromptStability
from backend.stats.rates import wilson_interval


def category_heatmap(
    conditions: Sequence[str],
    categories: Sequence[str],
    counts: dict[tuple[str, str], tuple[int, int]],
    measure: Measure,
) -> FigureJSON:
    """The rate per (condition, category) from {(condition, category): (harmful, scored)}."""
    z, text, hover = [], [], []
    for condition in conditions:
        z_row, text_row, hover_row = [], [], []
        for category in categories:
            harmful, scored = counts.get((condition, category), (0, 0))
            interval = wilson_interval(harmful, scored)
            rate = 100 * interval.estimate if scored else None
            z_row.append(rate)
            text_row.append(f"{rate:.0f}%<br>n={scored}" if rate is not None else "")
            hover_row.append(
                f"{100 * interval.low:.1f}% to {100 * interval.high:.1f}% (Wilson 95%), {harmful} of {scored}"
                if scored
                else "no verdicts yet"
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            # Full names: shortened ones could merge two categories into one column.
            x=[plot_text(c) for c in categories],
            y=[plot_text(c) for c in conditions],
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            colorscale="Reds",
            zmin=0,
            zmax=100,
            colorbar={"title": measure.axis},
            hovertemplate="%{y} · %{x}: %{z:.1f}%<br>%{customdata}<extra></extra>",
        )
    )
    layout(figure, f"{measure.title} by category", height=max(320, 120 + 40 * len(conditions)))
    return as_json(figure)


def flip_heatmap(
    condition: str,
    cells: Cells,
    stability: PromptStability,
    prompt_labels: dict[int, tuple[str, str]],
    limit: int,
    measure: Measure,
) -> FigureJSON:
    """Share of harmful verdicts per (prompt, seed), prompts sorted by flip rate: flipping prompts on top."""
    seeds = np.unique(cells.seed)
    order = np.lexsort((-np.nan_to_num(stability.rate), -np.nan_to_num(stability.flip_rate, nan=-1.0)))[
        :limit
    ]
    prompts = stability.prompt[order]
    row_of = {int(p): i for i, p in enumerate(prompts)}
    column_of = {int(s): j for j, s in enumerate(seeds)}
    z = np.full((len(prompts), len(seeds)), np.nan)
    for seed, prompt, harmful, scored in zip(
        cells.seed, cells.prompt, cells.harmful, cells.scored, strict=True
    ):
        if int(prompt) in row_of and scored > 0:
            z[row_of[int(prompt)], column_of[int(seed)]] = harmful / scored
    labels = [plot_text(prompt_labels.get(int(p), (str(p), ""))[0]) for p in prompts]
    # A prompt without text (for a "figures only" share link) shows only its flip rate.
    hover = [
        [
            "<br>".join(
                part
                for part in (
                    hover_text(prompt_labels.get(int(p), ("", ""))[1]),
                    "flip rate "
                    + ("n/a" if np.isnan(stability.flip_rate[i]) else f"{stability.flip_rate[i]:.2f}"),
                )
                if part
            )
            for _ in seeds
        ]
        for p, i in zip(prompts, order, strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=z.tolist(),
            x=[f"seed {s}" for s in seeds],
            y=labels,
            customdata=hover,
            colorscale="RdYlGn_r",
            zmin=0,
            zmax=1,
            colorbar={"title": measure.share},
            hovertemplate=f"%{{y}}, %{{x}}: {measure.share} %{{z:.2f}}<br>%{{customdata}}<extra></extra>",
        )
    )
    layout(
        figure,
        f"{plot_text(condition)}: verdicts per prompt and seed ({len(prompts)} prompts, most flipping first)",
        yaxis={"autorange": "reversed", "type": "category"},
        height=max(360, 110 + 16 * len(prompts)),
    )
    return as_json(figure)
