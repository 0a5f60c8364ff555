"""Each dashboard figure from just the part of the analysis it needs."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.figures import comparisons as comparison_figures
from backend.figures import design, distribution, heatmaps
from backend.figures.common import FigureJSON, empty_figure
from backend.models import Prompt
from backend.repositories import analysis as repository
from backend.schemas import ConditionRead
from backend.services import analysis
from backend.stats.prompts import prompt_stability


def seeds(session: Session, experiment_id: int) -> FigureJSON:
    data = analysis.load(session, experiment_id)
    return distribution.seed_distribution(analysis.condition_summaries(session, data))


def noise(session: Session, experiment_id: int) -> FigureJSON:
    data = analysis.load(session, experiment_id)
    return distribution.evaluation_vs_training_noise(analysis.condition_summaries(session, data))


def forest(
    session: Session, experiment_id: int, pairs: list[tuple[str, str]], adjustment: analysis.Adjustment
) -> FigureJSON:
    data = analysis.load(session, experiment_id)
    return comparison_figures.forest(
        analysis.comparisons(data, analysis.default_pairs(data) + pairs, adjustment), adjustment
    )


def categories(session: Session, experiment_id: int) -> FigureJSON:
    data = analysis.load(session, experiment_id)
    names = {c.id: c.name for c in data.experiment.conditions}
    rows = repository.category_counts(session, experiment_id, data.judge_key)
    counts = {(names[condition_id], category): (h, h + s) for condition_id, category, h, s, _ in rows}
    ordered_categories = sorted({category for _, category, *_ in rows})
    return heatmaps.category_heatmap(list(names.values()), ordered_categories, counts)


def flips(session: Session, experiment_id: int, condition_name: str | None, limit: int) -> FigureJSON:
    """The chosen condition, or by default the first fine-tuned one with verdicts."""
    data = analysis.load(session, experiment_id)
    condition: ConditionRead | None
    if condition_name is not None:
        condition = data.condition(condition_name)
    else:
        judged = [c for c in data.experiment.conditions if c.id in data.cells]
        condition = next((c for c in judged if not c.is_baseline), judged[0] if judged else None)
    if condition is None or condition.id not in data.cells:
        return empty_figure("Verdicts per prompt and seed", "no verdicts yet")
    cells = data.cells[condition.id]
    labels = {
        prompt_id: (external_id, text)
        for prompt_id, external_id, text in session.execute(
            select(Prompt.id, Prompt.external_id, Prompt.text).where(Prompt.id.in_(cells.prompt.tolist()))
        )
    }
    return heatmaps.flip_heatmap(condition.name, cells, prompt_stability(cells), labels, limit)


def variance(session: Session, experiment_id: int) -> FigureJSON:
    variances = analysis.variance(analysis.load(session, experiment_id))
    if not variances:
        return empty_figure("Variance components", "needs a condition with two seeds and two prompts judged")
    return design.variance_bars(variances)


def power(session: Session, experiment_id: int) -> FigureJSON:
    data = analysis.load(session, experiment_id)
    sizing = analysis.power(data, analysis.variance(data))
    if sizing is None:
        return empty_figure("Seeds needed", "needs a fine-tuned condition with two seeds judged")
    return design.power_curve(sizing)
