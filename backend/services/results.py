"""Read-side use cases: responses behind the numbers, and the dashboard's figures."""

from sqlalchemy.orm import Session

from backend.repositories import experiments as experiment_repository
from backend.repositories import results as repository
from backend.schemas import Page, PromptResponsesRead


def prompt_responses(
    session: Session, experiment_id: int, *, page: int, page_size: int
) -> Page[PromptResponsesRead]:
    experiment = experiment_repository.get_experiment(session, experiment_id)
    return repository.prompt_responses(
        session,
        experiment_id=experiment_id,
        benchmark_id=experiment.benchmark_id,
        judge_key=experiment_repository.primary_judge_key(experiment.judges),
        page=page,
        page_size=page_size,
    )
