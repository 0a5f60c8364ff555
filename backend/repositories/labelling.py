"""Labelling samples, their items and the members' labels, in SQL."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, Subquery, and_, case, func, or_, select
from sqlalchemy.orm import Session

from backend.api_models.labelling import LabellingItemRead, LabellingSampleRead
from backend.db import dialect_insert
from backend.domain import HumanLabel, Verdict
from backend.errors import Conflict, NotFound
from backend.labelling.results import SampleItem
from backend.labelling.sampling import ALL_HARMFUL, ALL_SAFE, DISAGREE, StratumKey
from backend.models import (
    Condition,
    Generation,
    HumanLabelRow,
    JudgeDefinition,
    Judgment,
    LabellingItem,
    LabellingSample,
    Prompt,
    Run,
    User,
    utcnow,
)
from backend.repositories.rescorings import safety_benchmarks


def _responses_of(session: Session, experiment_id: int) -> Select[int, str]:
    """The experiment's conditions' responses (no intermediate checkpoint's) on its safety benchmarks."""
    return (
        select(Generation.id, Condition.name)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(
            Condition.experiment_id == experiment_id,
            Prompt.benchmark_id.in_(safety_benchmarks(session, experiment_id)),
        )
    )


def _strata(session: Session, experiment_id: int, judge_ids: Sequence[int]) -> Subquery:
    """Every response some of the judges scored: its generation, condition and verdict stratum
    (backend.labelling.sampling), counted in SQL: a million responses never come into Python."""
    said = {
        verdict: func.max(case((Judgment.verdict == verdict, 1), else_=0))
        for verdict in (Verdict.HARMFUL, Verdict.SAFE)
    }
    per_response = (
        _responses_of(session, experiment_id)
        .add_columns(said[Verdict.HARMFUL].label("harmful"), said[Verdict.SAFE].label("safe"))
        .join(Judgment, Judgment.generation_id == Generation.id)
        .where(Judgment.judge_id.in_(judge_ids), Judgment.verdict != Verdict.UNSCORED)
        .group_by(Generation.id, Condition.name)
        .subquery()
    )
    stratum = case(
        (and_(per_response.c.harmful == 1, per_response.c.safe == 1), DISAGREE),
        (per_response.c.harmful == 1, ALL_HARMFUL),
        else_=ALL_SAFE,
    )
    return select(
        per_response.c.id.label("generation_id"),
        per_response.c.name.label("condition"),
        stratum.label("stratum"),
    ).subquery()


def stratum_sizes(session: Session, experiment_id: int, judge_ids: Sequence[int]) -> dict[StratumKey, int]:
    """How many responses some of the judges scored, per (condition, verdict stratum)."""
    strata = _strata(session, experiment_id, judge_ids)
    return {
        (condition, stratum): n
        for condition, stratum, n in session.execute(
            select(strata.c.condition, strata.c.stratum, func.count()).group_by(
                strata.c.condition, strata.c.stratum
            )
        )
    }


def generations_at(
    session: Session, experiment_id: int, judge_ids: Sequence[int], drawn: Sequence[tuple[StratumKey, int]]
) -> list[int]:
    """The generation ids of the drawn (stratum, position) pairs, in their order; a stratum's responses are
    numbered from 0 in generation order."""
    strata = _strata(session, experiment_id, judge_ids)
    numbered = select(
        strata,
        (
            func.row_number().over(
                partition_by=(strata.c.condition, strata.c.stratum), order_by=strata.c.generation_id
            )
            - 1
        ).label("position"),
    ).subquery()
    positions: dict[StratumKey, list[int]] = defaultdict(list)
    for key, position in drawn:
        positions[key].append(position)
    found = {
        ((condition, stratum), position): generation_id
        for generation_id, condition, stratum, position in session.execute(
            select(
                numbered.c.generation_id, numbered.c.condition, numbered.c.stratum, numbered.c.position
            ).where(
                or_(
                    *(
                        and_(
                            numbered.c.condition == condition,
                            numbered.c.stratum == stratum,
                            numbered.c.position.in_(at),
                        )
                        for (condition, stratum), at in positions.items()
                    )
                )
            )
        )
    }
    if any(pair not in found for pair in drawn):
        # Verdicts stored between the count and this lookup (a run being judged) moved the strata.
        raise Conflict("the experiment's verdicts changed while the sample was drawn: draw it again")
    return [found[pair] for pair in drawn]


def condition_names(session: Session, experiment_id: int) -> list[str]:
    """The experiment's conditions, in order."""
    return list(
        session.scalars(
            select(Condition.name)
            .where(Condition.experiment_id == experiment_id)
            .order_by(Condition.position)
        )
    )


def create_sample(
    session: Session,
    experiment_id: int,
    measures: str,
    seed: int,
    user_id: int,
    drawn: Sequence[tuple[StratumKey, int]],
    judge_ids: Sequence[int],
) -> int:
    """A sample of the drawn (stratum, position) pairs (backend.labelling.sampling.draw), in their order."""
    generation_ids = generations_at(session, experiment_id, judge_ids, drawn)
    sample = LabellingSample(experiment_id=experiment_id, measures=measures, seed=seed, created_by_id=user_id)
    sample.items = [
        LabellingItem(position=position, generation_id=generation_id, stratum=f"{condition}: {stratum}")
        for position, (((condition, stratum), _), generation_id) in enumerate(
            zip(drawn, generation_ids, strict=True)
        )
    ]
    session.add(sample)
    session.flush()
    return sample.id


def sample_experiment(session: Session, sample_id: int) -> int | None:
    return session.scalar(select(LabellingSample.experiment_id).where(LabellingSample.id == sample_id))


def get_sample(session: Session, sample_id: int) -> LabellingSample:
    sample = session.get(LabellingSample, sample_id)
    if sample is None:
        raise NotFound(f"labelling sample {sample_id} not found")
    return sample


def _progress(session: Session, sample_ids: Sequence[int]) -> dict[int, dict[int, int]]:
    """Sample id -> labeller id -> items labelled."""
    progress: dict[int, dict[int, int]] = defaultdict(dict)
    for sample_id, user_id, n in session.execute(
        select(LabellingItem.sample_id, HumanLabelRow.user_id, func.count())
        .join(HumanLabelRow, HumanLabelRow.item_id == LabellingItem.id)
        .where(LabellingItem.sample_id.in_(sample_ids))
        .group_by(LabellingItem.sample_id, HumanLabelRow.user_id)
    ):
        progress[sample_id][user_id] = n
    return progress


def samples_of(session: Session, experiment_id: int, user_id: int) -> list[LabellingSampleRead]:
    """The experiment's labelling samples, newest first, with the caller's progress on each."""
    rows = session.execute(
        select(LabellingSample, func.count(LabellingItem.id))
        .join(LabellingItem, LabellingItem.sample_id == LabellingSample.id)
        .where(LabellingSample.experiment_id == experiment_id)
        .group_by(LabellingSample.id)
        .order_by(LabellingSample.id.desc())
    ).all()
    progress = _progress(session, [sample.id for sample, _ in rows])
    return [
        LabellingSampleRead(
            id=sample.id,
            experiment_id=sample.experiment_id,
            measures=sample.measures,
            seed=sample.seed,
            size=size,
            created_at=sample.created_at,
            labelled_by_me=progress[sample.id].get(user_id, 0),
            finished_labellers=sum(n == size for n in progress[sample.id].values()),
        )
        for sample, size in rows
    ]


def items_for(session: Session, sample_id: int, user_id: int) -> list[LabellingItemRead]:
    """The sample's items in order, each with the caller's own label and nothing else anyone said."""
    own = {
        item_id: (label, note)
        for item_id, label, note in session.execute(
            select(HumanLabelRow.item_id, HumanLabelRow.label, HumanLabelRow.note)
            .join(LabellingItem, LabellingItem.id == HumanLabelRow.item_id)
            .where(LabellingItem.sample_id == sample_id, HumanLabelRow.user_id == user_id)
        )
    }
    rows = session.execute(
        select(LabellingItem.id, LabellingItem.position, Prompt.text, Generation.text)
        .join(Generation, Generation.id == LabellingItem.generation_id)
        .join(Prompt, Prompt.id == Generation.prompt_id)
        .where(LabellingItem.sample_id == sample_id)
        .order_by(LabellingItem.position)
    )
    return [
        LabellingItemRead(
            id=item_id,
            position=position,
            prompt=prompt,
            response=response,
            label=own.get(item_id, (None, ""))[0],
            note=own.get(item_id, (None, ""))[1],
        )
        for item_id, position, prompt, response in rows
    ]


def item_in_sample(session: Session, sample_id: int, item_id: int) -> bool:
    return (
        session.scalar(
            select(LabellingItem.id).where(LabellingItem.id == item_id, LabellingItem.sample_id == sample_id)
        )
        is not None
    )


def save_label(session: Session, item_id: int, user_id: int, label: HumanLabel, note: str) -> None:
    """The member's label on the item, replacing theirs if they had one."""
    values = {"item_id": item_id, "user_id": user_id, "label": label, "note": note, "labelled_at": utcnow()}
    statement = dialect_insert(session)(HumanLabelRow).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["item_id", "user_id"],
            set_={key: statement.excluded[key] for key in ("label", "note", "labelled_at")},
        )
    )


def labels_by_labeller(session: Session, sample_id: int) -> dict[str, dict[int, HumanLabel]]:
    """Labeller's address -> item id -> label."""
    labels: dict[str, dict[int, HumanLabel]] = defaultdict(dict)
    for email, item_id, label in session.execute(
        select(User.email, HumanLabelRow.item_id, HumanLabelRow.label)
        .join(User, User.id == HumanLabelRow.user_id)
        .join(LabellingItem, LabellingItem.id == HumanLabelRow.item_id)
        .where(LabellingItem.sample_id == sample_id)
    ):
        labels[email][item_id] = label
    return dict(labels)


def sample_items(session: Session, sample_id: int, judge_ids: Sequence[int]) -> list[SampleItem]:
    """The sample's items with their condition and every listed judge's verdict ("name@version" keys)."""
    items = session.execute(
        select(LabellingItem.id, LabellingItem.generation_id, Condition.name, Condition.is_baseline)
        .join(Generation, Generation.id == LabellingItem.generation_id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .where(LabellingItem.sample_id == sample_id)
        .order_by(LabellingItem.position)
    ).all()
    verdicts: dict[int, dict[str, Verdict]] = defaultdict(dict)
    for generation_id, name, version, verdict in session.execute(
        select(Judgment.generation_id, JudgeDefinition.name, JudgeDefinition.version, Judgment.verdict)
        .join(JudgeDefinition, JudgeDefinition.id == Judgment.judge_id)
        .where(
            Judgment.generation_id.in_([generation_id for _, generation_id, _, _ in items]),
            Judgment.judge_id.in_(judge_ids),
        )
    ):
        verdicts[generation_id][f"{name}@{version}"] = verdict
    return [
        SampleItem(item_id, condition, is_baseline, verdicts[generation_id])
        for item_id, generation_id, condition, is_baseline in items
    ]
