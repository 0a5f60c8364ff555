"""Before launch: what a drafted experiment would run, and what it could detect.

The minimum detectable difference of a draft comes from the noise an earlier experiment of the same
project measured on the same base model and benchmark (its first comparison with a for-new-seeds answer),
sized for the draft's seeds per fine-tuned condition with the test the dashboard will show
(backend.stats.power).
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api_models.analysis import PlanRead, SizingRead
from backend.config import Settings
from backend.experiment_definition import ExperimentSpec
from backend.models import Experiment
from backend.services import analysis
from backend.services.cache import AnalysisCache
from backend.services.experiments import check_references, check_size, count_runs
from backend.stats.power import Design


def plan(
    session: Session, cache: AnalysisCache, settings: Settings, spec: ExperimentSpec, project_id: int
) -> PlanRead:
    """The draft's runs, and its MDD from the newest experiment of the project that measured the noise."""
    check_size(spec, settings)
    benchmark = check_references(session, spec, project_id, settings).benchmarks[0]
    conditions = spec.resolved_conditions()
    fine_tuned = [c for c in conditions if c.finetune]
    n_runs = count_runs(conditions)
    # The runs that train an adapter: an evaluation-only condition's reuse its source's.
    n_fine_tuned_runs = sum(len(c.seeds) for c in fine_tuned if c.evaluates is None)
    seeds = min((len(c.seeds) for c in fine_tuned), default=0)

    def answer(size: SizingRead | None, basis: str, basis_experiment_id: int | None = None) -> PlanRead:
        return PlanRead(
            n_runs=n_runs,
            n_fine_tuned_runs=n_fine_tuned_runs,
            seeds_per_condition=seeds,
            sizing=size,
            sizing_basis=basis,
            basis_experiment_id=basis_experiment_id,
        )

    if not fine_tuned:
        return answer(None, "no fine-tuned condition: no training noise to size")
    if seeds < 2:
        return answer(None, "a fine-tuned condition has one seed: its training noise cannot be estimated")
    earlier = session.scalars(
        select(Experiment.id)
        .where(
            Experiment.project_id == project_id,
            Experiment.base_model == spec.base_model,
            Experiment.benchmark_id == benchmark.id,
        )
        .order_by(Experiment.id.desc())
    ).all()
    for experiment_id in earlier:
        data = analysis.load(session, experiment_id, cache)
        for name_a, name_b, comparison in analysis.comparison_stats(data, analysis.default_pairs(data)):
            if comparison.new_seeds is None:
                continue
            read, withheld = analysis.sizing_read(comparison, Design(seeds, comparison.n_prompts))
            measured = comparison.training_noise[0].df_seed + 1
            basis = (
                f"from the noise of experiment {experiment_id} ({data.experiment.name}): "
                f"{name_a} − {name_b}, {measured} seeds, as if run with {seeds}"
            )
            return answer(read, basis if withheld is None else f"{withheld} ({basis})", experiment_id)
    return answer(None, "no earlier experiment of the project on this base model and benchmark measured it")
