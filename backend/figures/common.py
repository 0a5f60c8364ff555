"""What every figure shares: JSON conversion, layout defaults, safe hover text."""

import html
import json
from typing import Any

import plotly.graph_objects as go

FigureJSON = dict[str, Any]


def as_json(figure: go.Figure) -> FigureJSON:
    return json.loads(figure.to_json())


def layout(figure: go.Figure, title: str, **extra: Any) -> go.Figure:
    figure.update_layout(title=title, template="plotly_white", margin={"t": 60, "l": 70, "r": 20, "b": 60})
    figure.update_layout(**extra)
    return figure


def hover_text(text: str, limit: int = 120) -> str:
    """Stored text for a hover label: shortened, and escaped, since Plotly reads some HTML tags in labels."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(short)


def partial_note(done: int, total: int) -> str:
    return "" if done == total else f" (partial: {done} of {total} runs done)"


def percent(x: float | None) -> float | None:
    return None if x is None else 100 * x


def empty_figure(title: str, message: str) -> FigureJSON:
    """A figure with nothing to show yet, saying why (too few runs done, one seed, ...)."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    layout(figure, title, xaxis={"visible": False}, yaxis={"visible": False}, height=260)
    return as_json(figure)
