"""What every figure shares: JSON conversion, layout defaults, and escaping of stored text."""

import json
from typing import Any

import plotly.graph_objects as go

FigureJSON = dict[str, Any]


def as_json(figure: go.Figure) -> FigureJSON:
    return json.loads(figure.to_json())


# Without a height, Plotly takes the container's, which is its CSS min-height before the first draw:
# the plot then collapses to a sliver. Every figure says how tall it is.
DEFAULT_HEIGHT = 440


def layout(figure: go.Figure, title: str, **extra: Any) -> go.Figure:
    figure.update_layout(
        title=title,
        template="plotly_white",
        margin={"t": 60, "l": 70, "r": 20, "b": 60},
        height=DEFAULT_HEIGHT,
    )
    figure.update_layout(**extra)
    return figure


def plot_text(text: str) -> str:
    """A stored string (a condition, category, prompt id or text) made safe for any Plotly text: titles,
    tick labels, legend names, hover text, annotations. Plotly renders a subset of HTML there (<a href>
    becomes a link, <b> bold), so "<" and ">" are escaped, and "&" so that entities show as written.
    Only the entities Plotly decodes are used (&amp; &lt; &gt;; html.escape's &quot; would show as such).
    Text never goes into a hovertemplate itself, where %{...} would be substituted: pass it as data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hover_text(text: str, limit: int = 120) -> str:
    """Stored text for a hover label: shortened, then escaped."""
    return plot_text(text if len(text) <= limit else text[: limit - 1] + "…")


def partial_note(done: int, total: int) -> str:
    return "" if done == total else f" (partial: {done} of {total} runs done)"


def percent(x: float | None) -> float | None:
    return None if x is None else 100 * x


def on_benchmark(figure: FigureJSON, benchmark: str) -> FigureJSON:
    """The figure with the benchmark its numbers are on in its title (an experiment with several)."""
    figure_layout = figure.get("layout", {})
    title = figure_layout.get("title", {})
    text = f"{title.get('text', '')} · on {plot_text(benchmark)}"
    return {**figure, "layout": {**figure_layout, "title": {**title, "text": text}}}


def empty_figure(title: str, message: str) -> FigureJSON:
    """A figure with nothing to show yet, saying why (too few runs done, one seed, ...)."""
    figure = go.Figure()
    figure.add_annotation(text=plot_text(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    layout(figure, title, xaxis={"visible": False}, yaxis={"visible": False}, height=260)
    return as_json(figure)
