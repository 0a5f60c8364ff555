"""The trade-off figure: every run's harm rate against what else its checkpoint did, a panel per measure
(capability: did the fine-tune keep its task; over-refusal: does it refuse benign prompts), so "made unsafe",
"broke the model" and "refuses everything" look different at a glance."""

from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.api_models.analysis import ConditionSummaryRead, SeedPointRead
from backend.figures.common import FigureJSON, as_json, layout, partial_note, plot_text
from backend.judging.measures import Measure

PANEL_HEIGHT = 460
# A condition's colour, the same in every panel (Plotly's default sequence).
COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880")


@dataclass(frozen=True)
class Panel:
    """One measure beside harm: its words, the set it is on, and the conditions' rates on that set."""

    measure: Measure
    evaluation_set: str  # "name@version"
    conditions: list[ConditionSummaryRead]


def _bars(point: SeedPointRead | ConditionSummaryRead) -> tuple[float, float]:
    """(above, below) the value, in points: a run's Wilson interval, a condition's t-interval."""
    if isinstance(point, SeedPointRead):
        return 100 * (point.high - point.rate), 100 * (point.rate - point.low)
    assert point.mean is not None and point.high is not None and point.low is not None
    return 100 * (point.high - point.mean), 100 * (point.mean - point.low)


def _error_bars(bars: list[tuple[float, float]], **style: object) -> dict[str, object]:
    """Plotly's asymmetric error bars from (above, below) pairs."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [above for above, _ in bars],
        "arrayminus": [below for _, below in bars],
        **style,
    }


def trade_off(harm: list[ConditionSummaryRead], harm_measure: Measure, panels: list[Panel]) -> FigureJSON:
    """A point per run (its seed's rate on both axes, each with the run's 95% interval) and a diamond per
    condition (means over seeds, t 95% intervals on both axes); the untuned baseline's points are stars."""
    figure = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[plot_text(f"{p.measure.title} on {p.evaluation_set}") for p in panels],
        horizontal_spacing=0.1,
    )
    for column, panel in enumerate(panels, start=1):
        other_by_name = {c.name: c for c in panel.conditions}
        for index, condition in enumerate(harm):
            other = other_by_name.get(condition.name)
            if other is None:
                continue
            _add_condition(figure, column, index, condition, other, harm_measure, panel.measure)
        figure.update_xaxes(title_text=panel.measure.axis, range=[-3, 103], row=1, col=column)
        figure.update_yaxes(title_text=harm_measure.axis, range=[-3, 103], row=1, col=column)
    done, total = sum(c.runs_done for c in harm), sum(c.runs_total for c in harm)
    layout(
        figure,
        f"{harm_measure.title} against capability and over-refusal, per run" + partial_note(done, total),
        height=PANEL_HEIGHT,
        legend={"orientation": "h", "y": -0.22, "yanchor": "top"},
        margin={"t": 80, "l": 70, "r": 20, "b": 120},
    )
    return as_json(figure)


def _add_condition(
    figure: go.Figure,
    column: int,
    index: int,
    harm: ConditionSummaryRead,
    other: ConditionSummaryRead,
    harm_measure: Measure,
    other_measure: Measure,
) -> None:
    name, colour = plot_text(harm.name), COLOURS[index % len(COLOURS)]
    first_panel = column == 1
    other_by_seed = {p.seed: p for p in other.seeds}
    pairs = [(p, other_by_seed[p.seed]) for p in harm.seeds if p.seed in other_by_seed]
    if pairs:
        figure.add_trace(
            go.Scatter(
                x=[100 * o.rate for _, o in pairs],
                y=[100 * h.rate for h, _ in pairs],
                mode="markers",
                marker={
                    "size": 11 if harm.is_baseline else 9,
                    "color": colour,
                    "symbol": "star" if harm.is_baseline else "circle",
                },
                error_x=_error_bars([_bars(o) for _, o in pairs], width=2, thickness=1),
                error_y=_error_bars([_bars(h) for h, _ in pairs], width=2, thickness=1),
                name=name + (" (untuned baseline)" if harm.is_baseline else ""),
                legendgroup=name,
                showlegend=first_panel,
                customdata=[[h.run_id, h.seed] for h, _ in pairs],
                hovertemplate=(
                    "run %{customdata[0]}, seed %{customdata[1]}<br>"
                    f"{other_measure.value} %{{x:.1f}}%<br>{harm_measure.value} %{{y:.1f}}%"
                    "<extra>%{fullData.name}</extra>"
                ),
            ),
            row=1,
            col=column,
        )
    means = (harm.mean, harm.low, harm.high, other.mean, other.low, other.high)
    if len(pairs) > 1 and all(value is not None for value in means):
        figure.add_trace(
            go.Scatter(
                x=[100 * other.mean],  # type: ignore[operator]
                y=[100 * harm.mean],  # type: ignore[operator]
                mode="markers",
                marker={
                    "symbol": "diamond",
                    "size": 13,
                    "color": colour,
                    "line": {"width": 1.5, "color": "#1f2430"},
                },
                error_x=_error_bars([_bars(other)], width=5, color=colour),
                error_y=_error_bars([_bars(harm)], width=5, color=colour),
                name=f"{name}: mean over seeds",
                legendgroup=name,
                showlegend=False,
                customdata=[[name, len(pairs)]],
                hovertemplate=(
                    "%{customdata[0]}: means over %{customdata[1]} seeds (t 95% bars)<br>"
                    f"{other_measure.value} %{{x:.1f}}%<br>{harm_measure.value} %{{y:.1f}}%<extra></extra>"
                ),
            ),
            row=1,
            col=column,
        )
