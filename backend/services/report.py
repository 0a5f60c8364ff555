"""The Markdown report of an experiment, from the same read models the dashboard shows."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from backend import report
from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as repository
from backend.services import analysis, full_analysis
from backend.services.cache import AnalysisCache
from backend.services.experiment_state import read_experiment


def experiment_report(
    session: Session, experiment_id: int, cache: AnalysisCache, adjustment: analysis.Adjustment = "holm"
) -> str:
    experiment = read_experiment(session, cache, experiment_id)
    return report.render(
        report.ReportInputs(
            experiment=experiment,
            analysis=full_analysis.analyse(session, experiment_id, cache, adjustment=adjustment),
            benchmarks=[catalog_repository.get(session, BENCHMARKS, b.id) for b in experiment.benchmarks],
            training_sets=[
                catalog_repository.get(session, TRAINING_SETS, training_set_id)
                for training_set_id in dict.fromkeys(
                    c.training_set_id for c in experiment.conditions if not c.is_baseline
                )
            ],
            provenance=repository.run_provenance(session, experiment_id),
            generated_at=datetime.now(UTC),
        )
    )
