"""The erosion curve: a condition's rates along its training, one line per seed, a panel per evaluation set,
with the step where each seed's task loss converged marked."""

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from backend.api_models.analysis import ErosionRead, ErosionSeedRead, ErosionSetRead
from backend.figures.common import FigureJSON, as_json, layout, percent, plot_text
from backend.judging.measures import Measure

_PANEL_HEIGHT = 260
_SEED_COLORS = qualitative.D3


def erosion_curves(erosion: ErosionRead, measures: list[Measure]) -> FigureJSON:
    """Each set's rate (with its interval) at every checkpoint against the fraction of training, one line
    per seed (a seed's colour is the same in every panel); each seed's converged step a dotted line."""
    panels = list(zip(erosion.sets, measures, strict=True))
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12 / len(panels),
        subplot_titles=[f"{measure.title} on {plot_text(s.benchmark)}" for s, measure in panels],
    )
    for row, (evaluation_set, measure) in enumerate(panels, start=1):
        for index, seed in enumerate(erosion.seeds):
            line = _seed_line(evaluation_set, seed, measure, _color(index), showlegend=row == 1)
            figure.add_trace(line, row=row, col=1)
        figure.update_yaxes(title_text=measure.axis, range=[0, 100], row=row, col=1)
    for index, seed in enumerate(erosion.seeds):
        _mark_convergence(figure, seed, _color(index), index)
    figure.update_xaxes(range=[0, 1.02], tickformat=".0%")
    figure.update_xaxes(
        title_text="training progress (share of steps; dotted: where each seed's task loss converged)",
        row=len(panels),
        col=1,
    )
    layout(
        figure,
        f"Erosion along training: {plot_text(erosion.condition)}",
        height=140 + _PANEL_HEIGHT * len(panels),
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"},
        margin={"t": 100, "l": 70, "r": 20, "b": 60},
    )
    return as_json(figure)


def _color(index: int) -> str:
    return _SEED_COLORS[index % len(_SEED_COLORS)]


def _seed_line(
    evaluation_set: ErosionSetRead, seed: ErosionSeedRead, measure: Measure, color: str, showlegend: bool
) -> go.Scatter:
    """The seed's judged checkpoints on the set: each rate with its interval, step and n in the hover."""
    steps = {checkpoint.fraction: checkpoint.step for checkpoint in seed.checkpoints}
    judged = [
        (point.fraction, point.rate)
        for point in evaluation_set.points
        if point.seed == seed.seed and point.rate is not None and point.rate.rate is not None
    ]
    rates = [rate for _, rate in judged]
    return go.Scatter(
        x=[fraction for fraction, _ in judged],
        y=[percent(rate.rate) for rate in rates],
        mode="lines+markers",
        name=f"seed {seed.seed}",
        legendgroup=f"seed {seed.seed}",
        showlegend=showlegend,
        line={"color": color},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [100 * ((rate.high or 0.0) - (rate.rate or 0.0)) for rate in rates],
            "arrayminus": [100 * ((rate.rate or 0.0) - (rate.low or 0.0)) for rate in rates],
        },
        customdata=[
            [steps.get(fraction), percent(rate.low), percent(rate.high), rate.harmful + rate.safe]
            for fraction, rate in judged
        ],
        hovertemplate=(
            f"seed {seed.seed} at %{{x:.0%}} of training (step %{{customdata[0]}}): {measure.value} "
            f"%{{y:.1f}}{measure.suffix} (95%: %{{customdata[1]:.1f}} to %{{customdata[2]:.1f}}), "
            "n = %{customdata[3]}<extra></extra>"
        ),
    )


# Pixels between the labels of seeds' converged steps: seeds often converge at (nearly) the same step.
_LABEL_STEP_PX = 14


def _mark_convergence(figure: go.Figure, seed: ErosionSeedRead, color: str, index: int) -> None:
    """A dotted line across every panel at the seed's converged step, as a share of its steps; the index-th
    seed's label a line lower than the one before, so labels at the same step stay readable."""
    if seed.converged_step is None or not seed.steps:
        return
    figure.add_vline(
        x=seed.converged_step / seed.steps,
        line_dash="dot",
        line_color=color,
        annotation_text=f"seed {seed.seed}: step {seed.converged_step}/{seed.steps}",
        annotation_position="top left",
        annotation_font_color=color,
        annotation_yshift=-_LABEL_STEP_PX * index,
    )
