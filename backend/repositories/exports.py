"""An experiment's judgments as the long table, read in chunks through a server-side cursor."""

from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.orm import Session

from backend.domain import Verdict
from backend.errors import NotFound
from backend.experiment_definition import StoredCondition
from backend.models import (
    Benchmark,
    Condition,
    Experiment,
    Generation,
    JudgeDefinition,
    Judgment,
    Prompt,
    Run,
    TrainingSet,
)

# The columns of each row read here, in order, with the kind of value they hold.
JUDGMENT_COLUMNS: dict[str, Literal["str", "int", "float"]] = {
    "condition": "str",
    "run_id": "int",
    "seed": "int",
    "lora_init_seed": "int",
    "data_order_seed": "int",
    "data_subset_seed": "int",
    "sampling_seed": "int",
    "evaluation_index": "int",
    "sample_index": "int",
    "benchmark": "str",  # name@version of the prompt's benchmark
    "prompt_id": "str",  # the benchmark's external id
    "category": "str",
    "response_chars": "int",
    "response_new_tokens": "int",
    "judge": "str",  # name@version
    "verdict": "str",
    "score": "float",
}


# A judge as the exports name it: name@version.
_JUDGE_REF = JudgeDefinition.name + "@" + cast(JudgeDefinition.version, String)


def _judgments_with(*columns: Any) -> Select[Any]:
    """`columns` of every judgment, joined to its judge, response, run, condition and prompt."""
    return (
        select(*columns)
        .select_from(Judgment)
        .join(JudgeDefinition, JudgeDefinition.id == Judgment.judge_id)
        .join(Generation, Generation.id == Judgment.generation_id)
        .join(Run, Run.id == Generation.run_id)
        .join(Condition, Condition.id == Run.condition_id)
        .join(Prompt, Prompt.id == Generation.prompt_id)
    )


def _streamed(session: Session, query: Select[Any], chunk_size: int) -> Iterator[Sequence[Any]]:
    """The query's rows, `chunk_size` at a time. yield_per streams: PostgreSQL through a server-side
    cursor, SQLite row by row; no more than one chunk is held, whatever the size of the experiment."""
    result = session.execute(query, execution_options={"yield_per": chunk_size})
    try:
        yield from result.partitions()
    finally:
        result.close()


def conditions_of(session: Session, experiment_id: int) -> dict[int, tuple[StoredCondition, bool, str]]:
    """{condition id: (its resolved spec, is it the baseline, its pinned training set "name@version")};
    NotFound if there is no such experiment."""
    if session.get(Experiment, experiment_id) is None:
        raise NotFound(f"experiment {experiment_id} not found")
    rows = session.execute(
        select(Condition.id, Condition.spec, Condition.is_baseline, TrainingSet.name, TrainingSet.version)
        .join(TrainingSet, Condition.training_set_id == TrainingSet.id)
        .where(Condition.experiment_id == experiment_id)
    )
    return {
        condition_id: (spec, is_baseline, f"{name}@{version}")
        for condition_id, spec, is_baseline, name, version in rows
    }


def judgment_chunks(
    session: Session, experiment_id: int, chunk_size: int
) -> Iterator[list[tuple[int, tuple[Any, ...]]]]:
    """Every (generation, judge) of the experiment, `chunk_size` rows at a time, as (condition id,
    JUDGMENT_COLUMNS values) pairs.

    The response's text is not read, only its length.
    """
    query = (
        _judgments_with(
            Condition.id,
            Condition.name,
            Run.id,
            Run.seed,
            Run.lora_init_seed,
            Run.data_order_seed,
            Run.data_subset_seed,
            Run.sampling_seed,
            Run.evaluation_index,
            Generation.sample_index,
            Benchmark.name + "@" + Benchmark.version,
            Prompt.external_id,
            Prompt.category,
            func.length(Generation.text),
            Generation.n_new_tokens,
            _JUDGE_REF,
            Judgment.verdict,
            Judgment.score,
        )
        .join(Benchmark, Benchmark.id == Prompt.benchmark_id)
        .where(Condition.experiment_id == experiment_id)
        .order_by(
            Condition.position,
            Run.id,
            Prompt.benchmark_id,
            Prompt.position,
            Generation.sample_index,
            Judgment.judge_id,
        )
    )
    for partition in _streamed(session, query, chunk_size):
        yield [(row[0], (*row[1:16], row[16].value, row[17])) for row in partition]


class ScoredResponse(NamedTuple):
    """One response with one judge's scored verdict, as the instance-level export reads it."""

    condition_id: int
    benchmark_id: int
    run_id: int
    # The run whose checkpoint a re-evaluation samples again; None for the run that trained it.
    evaluation_of_id: int | None
    seed: int
    lora_init_seed: int
    data_order_seed: int
    data_subset_seed: int
    sampling_seed: int
    evaluation_index: int
    sample_index: int
    prompt_id: str  # the benchmark's external id
    category: str
    prompt: str
    response: str
    response_new_tokens: int
    # The coherence rule's mark (None: generated before coherence was measured).
    incoherent: bool | None
    judge: str  # name@version
    verdict: Verdict
    score: float | None


def scored_responses(
    session: Session, experiment_id: int, benchmark_ids: list[int], judge_ids: list[int], chunk_size: int
) -> Iterator[list[ScoredResponse]]:
    """The scored verdicts of `judge_ids` on the prompts of `benchmark_ids`, with the prompt and response
    texts, a chunk at a time, grouped by (condition, benchmark). Intermediate checkpoints' evaluations have
    no condition and are left out, as every statistic leaves them out; so are unscored verdicts, which no
    rate counts."""
    query = (
        _judgments_with(
            Condition.id,
            Prompt.benchmark_id,
            Run.id,
            Run.evaluation_of_id,
            Run.seed,
            Run.lora_init_seed,
            Run.data_order_seed,
            Run.data_subset_seed,
            Run.sampling_seed,
            Run.evaluation_index,
            Generation.sample_index,
            Prompt.external_id,
            Prompt.category,
            Prompt.text,
            Generation.text,
            Generation.n_new_tokens,
            Generation.incoherent,
            _JUDGE_REF,
            Judgment.verdict,
            Judgment.score,
        )
        .where(
            Condition.experiment_id == experiment_id,
            Prompt.benchmark_id.in_(benchmark_ids),
            Judgment.judge_id.in_(judge_ids),
            Judgment.verdict != Verdict.UNSCORED,
        )
        .order_by(
            Condition.position,
            Prompt.benchmark_id,
            Run.id,
            Prompt.position,
            Generation.sample_index,
            Judgment.judge_id,
        )
    )
    for partition in _streamed(session, query, chunk_size):
        yield [ScoredResponse._make(row) for row in partition]
