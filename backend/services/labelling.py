"""Labelling an experiment's own responses: an editor draws a sample (backend.labelling.sampling), each
member labels it in the browser, seeing only their own labels, and once they have labelled every item they
see how far the labellers agree and how far each judge agrees with them, per condition
(backend.labelling.results). Results stay hidden from a member until they finish, so nobody's labels lean
on anyone else's, nor on the judges'."""

from sqlalchemy.orm import Session

from backend.api_models.labelling import (
    LabellingItemRead,
    LabellingResultsRead,
    LabellingSampleRead,
    LabellingSampleRequest,
    LabelRequest,
)
from backend.errors import Conflict, InvalidInput, NotFound
from backend.judging.definition import Measured
from backend.labelling.results import agreed_labels, human_agreement, judge_on_sample
from backend.labelling.sampling import draw
from backend.repositories import labelling as repository
from backend.repositories.judges import judges_of_experiment


def create_sample(
    session: Session, experiment_id: int, request: LabellingSampleRequest, user_id: int
) -> LabellingSampleRead:
    judges = judges_of_experiment(session, experiment_id)
    judge_ids = [judge.id for judge in judges]
    available = repository.stratum_sizes(session, experiment_id, judge_ids)
    if (judged := sum(available.values())) < request.size:
        raise InvalidInput(
            f"the experiment has {judged} judged responses on its safety benchmarks, fewer than the "
            f"{request.size} asked for: ask for fewer, or wait for more runs to be judged"
        )
    drawn = draw(available, repository.condition_names(session, experiment_id), request.size, request.seed)
    measures = request.measures or judges[0].measures
    sample_id = repository.create_sample(
        session, experiment_id, measures, request.seed, user_id, drawn, judge_ids
    )
    session.commit()
    return next(s for s in repository.samples_of(session, experiment_id, user_id) if s.id == sample_id)


def _in_experiment(session: Session, experiment_id: int, sample_id: int) -> None:
    if repository.sample_experiment(session, sample_id) != experiment_id:
        raise NotFound(f"labelling sample {sample_id} not found")


def items(session: Session, experiment_id: int, sample_id: int, user_id: int) -> list[LabellingItemRead]:
    _in_experiment(session, experiment_id, sample_id)
    return repository.items_for(session, sample_id, user_id)


def save_label(
    session: Session, experiment_id: int, sample_id: int, item_id: int, user_id: int, request: LabelRequest
) -> None:
    _in_experiment(session, experiment_id, sample_id)
    if not repository.item_in_sample(session, sample_id, item_id):
        raise NotFound(f"item {item_id} is not in labelling sample {sample_id}")
    repository.save_label(session, item_id, user_id, request.label, request.note)
    session.commit()


def results(session: Session, experiment_id: int, sample_id: int, user_id: int) -> LabellingResultsRead:
    """Conflict until the caller has labelled every item of the sample."""
    _in_experiment(session, experiment_id, sample_id)
    own = repository.items_for(session, sample_id, user_id)
    left = sum(item.label is None for item in own)
    if left:
        raise Conflict(
            f"label the {left} item(s) you have not labelled yet to see the results: until then each "
            "labeller sees only their own labels"
        )
    sample = repository.get_sample(session, sample_id)
    judges = judges_of_experiment(session, experiment_id)
    sample_items = repository.sample_items(session, sample_id, [judge.id for judge in judges])
    labels = repository.labels_by_labeller(session, sample_id)
    agreed = agreed_labels(sample_items, labels)
    measures = Measured(sample.measures)
    conditions = repository.condition_names(session, experiment_id)
    return LabellingResultsRead(
        sample_id=sample_id,
        measures=measures,
        labellers=sorted(labels),
        n_agreed=len(agreed.labels),
        n_disputed=agreed.disputed,
        n_untold=agreed.untold,
        human_agreement=human_agreement(labels),
        judges=[
            judge_on_sample(str(j.ref), j.measures, measures, sample_items, agreed, conditions)
            for j in judges
        ],
    )
