"""Labelling samples, their items and the members' labels, in SQL."""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.api_models.labelling import LabellingItemRead, LabellingSampleRead
from backend.db import dialect_insert
from backend.domain import HumanLabel, Verdict
from backend.errors import NotFound
from backend.labelling.results import SampleItem
from backend.labelling.sampling import Candidate, stratum_of
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


def candidates(session: Session, experiment_id: int, judge_ids: Sequence[int]) -> list[Candidate]:
    """Every response some judge of the experiment scored, with its stratum (backend.labelling.sampling)."""
    verdicts: dict[tuple[int, str], list[str]] = defaultdict(list)
    rows = session.execute(
        _responses_of(session, experiment_id)
        .add_columns(Judgment.verdict)
        .join(Judgment, Judgment.generation_id == Generation.id)
        .where(Judgment.judge_id.in_(judge_ids), Judgment.verdict != Verdict.UNSCORED)
    )
    for generation_id, condition, verdict in rows:
        verdicts[(generation_id, condition)].append(verdict)
    drawable = []
    for (generation_id, condition), given in verdicts.items():
        stratum = stratum_of(given)
        if stratum is not None:
            drawable.append(Candidate(generation_id, condition, stratum))
    return drawable


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
    session: Session, experiment_id: int, measures: str, seed: int, user_id: int, drawn: Sequence[Candidate]
) -> int:
    sample = LabellingSample(experiment_id=experiment_id, measures=measures, seed=seed, created_by_id=user_id)
    sample.items = [
        LabellingItem(position=position, generation_id=c.generation_id, stratum=f"{c.condition}: {c.stratum}")
        for position, c in enumerate(drawn)
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
