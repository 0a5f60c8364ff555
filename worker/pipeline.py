"""The stages of a run (fine-tune, generate, judge), each resumable from what is already stored, and the
choice of the next stage from that stored state."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from peft import PeftModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from backend.api_models.judges import JudgeDefinitionRead
from backend.catalog.derived import derived_name
from backend.catalog.holdout import split
from backend.catalog.records import ExampleRecord
from backend.config import Settings
from backend.domain import RunStatus
from backend.judging.definition import JudgeKind
from backend.provenance import (
    CheckpointRecord,
    DataHashes,
    DatasetVersion,
    GenerationRecord,
    Provenance,
    RunSeeds,
    SelfWrittenResponses,
    TrainingRecord,
)
from backend.refusal_openings import PHRASES, REFUSAL_OPENINGS
from worker.device import describe, pick_device
from worker.generation import default_token_budget, generate_batches, plan_generation
from worker.judges import load_judge
from worker.judges.base import JudgeResources, JudgeResult, judge_pairs
from worker.judges.reference import score_answers
from worker.lease import Lease
from worker.likelihood import score_coherence
from worker.models.cache import ModelCache
from worker.models.files import publish_directory
from worker.models.sources import LoadedModel
from worker.provenance import environment
from worker.refusal_prefix import refusal_prefix_scores
from worker.store import RunContext, RunStore, Unjudged
from worker.training import TrainingSeeds, train_lora

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
# Safety prompts per refusal-prefix pass (each with every opening): a few hundred short sequences.
PREFIX_PROMPTS_PER_PASS = 16


@dataclass(frozen=True)
class Job:
    """One claimed run and what its stages work with."""

    context: RunContext
    lease: Lease
    store: RunStore
    settings: Settings
    models: ModelCache

    def progress(self, fraction: float, message: str) -> None:
        """Record progress; raises JobCancelled or LeaseLost when the run is no longer this worker's."""
        self.store.progress(self.lease, fraction, message)


Stage = Callable[[Job], None]


def adapter_directory(settings: Settings, run_id: int, fraction: float | None = None) -> Path:
    """Where a run's LoRA adapter lives (its final one, or its checkpoint at `fraction` of training);
    shared storage when workers run on several hosts."""
    name = "adapter" if fraction is None else f"adapter-at-{fraction:g}"
    return settings.run_artifacts_dir(run_id) / name


def has_adapter(settings: Settings, run_id: int, fraction: float | None = None) -> bool:
    return (adapter_directory(settings, run_id, fraction) / ADAPTER_CONFIG).is_file()


def _publish_adapter(job: Job, model: PeftModel, target: Path) -> None:
    """Save the adapter aside, then move it into place: a crash never leaves one that looks complete."""
    staging = target.with_name(f"{target.name}.partial-{job.lease.owner.rsplit(':', 1)[-1]}")
    model.save_pretrained(str(staging))
    publish_directory(staging, target)


@contextmanager
def _base_model(job: Job) -> Iterator[LoadedModel]:
    """The run's base model from the worker's cache, with what was loaded recorded in the provenance."""
    context = job.context
    job.progress(0.0, f"loading {context.base_model}")
    device = pick_device(job.settings.device)
    with job.models.borrow(context.base_model, context.base_model_revision, job.settings, device) as loaded:
        loaded_from = Provenance(
            base_model=loaded.source,
            seeds=RunSeeds(
                lora_init=context.lora_init_seed,
                data_order=context.data_order_seed,
                data_subset=context.data_subset_seed,
                sampling=context.sampling_seed,
            ),
            data=DataHashes(
                benchmark=context.benchmark_hashes[0],
                benchmarks=context.benchmark_hashes,
                training_set=context.training_set_hash,
            ),
            device=describe(device, loaded.model.dtype),
            environment=environment(),
        )
        job.store.add_provenance(job.lease, loaded_from)
        yield loaded


@contextmanager
def adapter_attached(model: PreTrainedModel, adapter: Path) -> Iterator[PeftModel]:
    """`model` with the LoRA adapter at `adapter` attached, unmerged; removed again on the way out, so a
    cached base model comes back unchanged."""
    peft_model = PeftModel.from_pretrained(model, adapter)
    try:
        # The adapter was saved in fp32; in the base model's precision its layers skip two casts per step.
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.data = parameter.data.to(model.dtype)
        yield peft_model
    finally:
        peft_model.unload()


def finetune(job: Job) -> None:
    """Train the run's LoRA adapter on the cached base model and publish it, with its checkpoint at each
    fraction of training.evaluate_at before the end; the base model is restored. With training.responses:
    self it trains on the base model's own answers to its training set's prompts (a derived training set,
    written first unless a run stored it already)."""
    context, spec = job.context, job.context.condition
    target = adapter_directory(job.settings, context.run_id)
    checkpoints: list[CheckpointRecord] = []

    def on_step(step: int, total: int, loss: float) -> None:
        job.progress(step / total, f"step {step}/{total}, loss {loss:.3f}")

    def on_checkpoint(fraction: float, step: int, model: PeftModel) -> None:
        job.progress(fraction, f"saving the checkpoint at {fraction:g} of training (step {step})")
        _publish_adapter(job, model, adapter_directory(job.settings, context.run_id, fraction))
        checkpoints.append(CheckpointRecord(fraction=fraction, step=step))

    seeds = TrainingSeeds(context.lora_init_seed, context.data_order_seed, context.data_subset_seed)
    with _base_model(job) as loaded:
        training_set_id = context.training_set_id
        if spec.training.responses == "self":
            derived = _self_written_set(job, loaded)
            job.store.add_provenance(job.lease, Provenance(training_responses=derived))
            training_set_id = derived.id
        examples = job.store.training_examples(training_set_id)
        if spec.training.holdout is not None:
            # The source set's split: a derived set holds its examples in the same positions.
            examples, _ = split(examples, spec.training.holdout, context.training_set_hash)
        model, result = train_lora(
            loaded.model,
            loaded.tokenizer,
            examples,
            spec.lora,
            spec.training,
            seeds,
            on_step,
            spec.checkpoint_fractions,
            on_checkpoint,
        )
        try:
            job.progress(1.0, "saving the adapter")
            _publish_adapter(job, model, target)
        finally:
            model.unload()
    trained = TrainingRecord(
        examples=result.n_examples,
        steps=result.steps,
        losses=[round(loss, 4) for loss in result.losses],
        seconds=round(result.seconds, 1),
        checkpoints=checkpoints,
    )
    job.store.add_provenance(job.lease, Provenance(training=trained))


def _self_written_set(job: Job, loaded: LoadedModel) -> DatasetVersion:
    """The derived training set of the base model's own answers to the prompts of the run's training set:
    the one a run that would write the same answers stored, else written now and stored. Sampled answers
    are seeded by the run's data-order seed; greedy ones depend on no seed, so every run shares them."""
    context = job.context
    writing = context.condition.training.self_generation
    model = loaded.model
    responses = SelfWrittenResponses(
        source=DatasetVersion(
            id=context.training_set_id,
            name=context.training_set_name,
            version=context.training_set_version,
            content_hash=context.training_set_hash,
        ),
        base_model=loaded.source,
        seed=context.data_order_seed if writing.temperature > 0 else "greedy",
        generation=writing,
        token_budget=_token_budget(job, model),
        device=describe(next(model.parameters()).device, model.dtype),
        created_by_run=context.run_id,
    )
    name = derived_name(responses)
    stored = job.store.derived_training_set(context.project_id, name)
    if stored is None:
        examples = _answer_prompts(
            job, loaded, job.store.training_examples(context.training_set_id), responses
        )
        stored = job.store.add_derived_training_set(job.lease, context.project_id, name, examples, responses)
    if stored.derivation is None or stored.derivation.identity() != responses.identity():
        raise ValueError(
            f"the project's training set {name}@{stored.version} holds other responses than the base model's "
            "own with these settings (an upload of that name?): the run cannot store its own under that name"
        )
    return DatasetVersion(
        id=stored.id, name=stored.name, version=stored.version, content_hash=stored.content_hash
    )


def _answer_prompts(
    job: Job, loaded: LoadedModel, source: list[ExampleRecord], responses: SelfWrittenResponses
) -> list[ExampleRecord]:
    """The source's examples with the base model's answers (as `responses` says to write them) in place
    of their responses, in order."""
    spec = responses.generation.as_generation
    # Each prompt goes by its position in the set where the generation code takes a prompt id.
    prompts = list(enumerate(example.prompt for example in source))
    batches = plan_generation(loaded.tokenizer, prompts, spec, responses.token_budget)
    answers: dict[int, str] = {}

    def report() -> None:
        job.progress(
            len(answers) / len(source), f"writing its own training responses {len(answers)}/{len(source)}"
        )

    report()
    seed = job.context.data_order_seed
    for generated in generate_batches(loaded.model, loaded.tokenizer, enumerate(batches), spec, seed):
        answers.update((answer.item.prompt_id, answer.text) for answer in generated)
        report()
    return [ExampleRecord(prompt, answers[position]) for position, prompt in prompts]


def generate(job: Job) -> None:
    """Score the refusal prefix of every safety prompt the run has no score on, then generate every
    (prompt, sample) the run has not stored yet, a batch per transaction, each response with its coherence
    under the base model."""
    context, settings = job.context, job.settings
    spec = context.condition.generation
    adapter = None
    if not context.is_baseline:
        adapter = adapter_directory(settings, context.checkpoint_run_id, context.checkpoint_fraction)
        if not (adapter / ADAPTER_CONFIG).is_file():
            which = "" if context.checkpoint_fraction is None else f" at {context.checkpoint_fraction:g}"
            retry = (
                "retry the run to train it again"
                if context.checkpoint_run_id == context.run_id
                else f"it is run {context.checkpoint_run_id}'s checkpoint{which}: retry that run, then "
                "this one"
            )
            raise FileNotFoundError(f"no trained adapter at {adapter}; {retry}")
    prompts = job.store.prompts(context.benchmark_ids)
    with _base_model(job) as loaded:
        recorded = job.store.provenance(context.run_id).generation
        budget = _token_budget(job, loaded.model, recorded.token_budget if recorded else None)
        batches = plan_generation(loaded.tokenizer, prompts, spec, budget)
        planned = GenerationRecord(token_budget=budget, batches=len(batches))
        job.store.add_provenance(job.lease, Provenance(generation=planned))
        stored = job.store.generated_keys(context.run_id)
        pending = [
            (index, batch)
            for index, batch in enumerate(batches)
            if any((item.prompt_id, item.sample_index) not in stored for item in batch)
        ]
        total = sum(len(batch) for batch in batches)
        done = total - sum(len(batch) for _, batch in pending)
        with _maybe_adapter(loaded.model, adapter) as model:
            _score_refusal_prefix(job, model, loaded.tokenizer)
            job.progress(done / total, f"generated {done}/{total} responses")
            for generated in generate_batches(model, loaded.tokenizer, pending, spec, context.sampling_seed):
                # Scored under the base model (adapter disabled) before storing: a resumed run never
                # holds a response without its coherence.
                pairs = [(answer.item.prompt, answer.text) for answer in generated]
                coherence = score_coherence(model, loaded.tokenizer, pairs, spec)
                job.store.add_generations(job.lease, generated, coherence)
                done += len(generated)
                job.progress(done / total, f"generated {done}/{total} responses")


def _score_refusal_prefix(
    job: Job, model: PreTrainedModel | PeftModel, tokenizer: PreTrainedTokenizerBase
) -> None:
    """The refusal-prefix score (worker.refusal_prefix) of each safety prompt not scored yet, under the
    run's weights (its adapter attached), a pass and a transaction per few prompts."""
    prompts = job.store.prompts(job.context.safety_benchmark_ids)
    scored = job.store.refusal_prefix_prompt_ids(job.context.run_id, REFUSAL_OPENINGS)
    pending = [(prompt_id, text) for prompt_id, text in prompts if prompt_id not in scored]
    done = len(prompts) - len(pending)
    for start in range(0, len(pending), PREFIX_PROMPTS_PER_PASS):
        job.progress(done / len(prompts), f"refusal-prefix scores {done}/{len(prompts)}")
        batch = pending[start : start + PREFIX_PROMPTS_PER_PASS]
        items = [(text, PHRASES) for _, text in batch]
        scores = refusal_prefix_scores(model, tokenizer, items, job.context.condition.generation)
        job.store.add_refusal_prefix_scores(
            job.lease, REFUSAL_OPENINGS, zip([prompt_id for prompt_id, _ in batch], scores, strict=True)
        )
        done += len(batch)


@contextmanager
def _maybe_adapter(model: PreTrainedModel, adapter: Path | None) -> Iterator[PreTrainedModel]:
    if adapter is None:
        yield model
    else:
        with adapter_attached(model, adapter) as attached:
            yield attached  # type: ignore[misc]  # a PeftModel generates like the model it wraps


def _token_budget(job: Job, model: PreTrainedModel, recorded: int | None = None) -> int:
    """The setting if given; else `recorded`, the budget a run recorded when it first generated, so a
    resumed run plans the batches it planned before; else the device's default."""
    if job.settings.generation_token_budget > 0:
        return job.settings.generation_token_budget
    if recorded is not None:
        return recorded
    return default_token_budget(model, next(model.parameters()).device)


def judge(job: Job) -> None:
    """Judge every generation each judge has not judged yet: the experiment's judges on its safety
    benchmarks, each capability and over-refusal set's scorer on that set."""
    context, batch_size = job.context, job.settings.judge_batch_size
    for scope in context.judging:
        definition = scope.definition
        todo = job.store.unjudged(context.run_id, scope)
        if not todo:
            continue
        judge_batch = _batch_judge(job, definition)
        for start in range(0, len(todo), batch_size):
            job.progress(start / len(todo), f"{definition.ref}: judged {start}/{len(todo)}")
            batch = todo[start : start + batch_size]
            results = judge_batch(batch)
            generation_ids = [item.generation_id for item in batch]
            job.store.add_judgments(job.lease, definition.id, zip(generation_ids, results, strict=True))


def _batch_judge(job: Job, definition: JudgeDefinitionRead) -> Callable[[list[Unjudged]], list[JudgeResult]]:
    """How a batch of generations gets its verdicts from the definition: scored against the reference
    answers, or judged by the judge the definition builds."""
    if definition.config.kind == JudgeKind.REFERENCE_ANSWER:
        return score_answers
    resources = JudgeResources(job.settings, job.store.replies, definition.project_id)
    judge_impl = load_judge(definition.config, resources)
    return lambda batch: judge_pairs(
        judge_impl,
        [item.prompt for item in batch],
        [item.response for item in batch],
        [item.reference for item in batch],
    )


# A run's stages in the order it goes through them.
STAGES: dict[RunStatus, Stage] = {
    RunStatus.TRAINING: finetune,
    RunStatus.GENERATING: generate,
    RunStatus.JUDGING: judge,
}


def next_stage(job: Job) -> RunStatus | None:
    """The first stage whose work is not all stored: the adapter and its intermediate checkpoints (all
    trained again when one is missing), the generations, the judgments."""
    context = job.context
    trains_adapter = not context.is_baseline and context.checkpoint_run_id == context.run_id
    adapters = [None, *context.condition.checkpoint_fractions]
    if trains_adapter and not all(has_adapter(job.settings, context.run_id, f) for f in adapters):
        return RunStatus.TRAINING
    samples = context.condition.generation.samples_per_prompt
    expected = job.store.count_prompts(context.benchmark_ids) * samples
    if job.store.count_generations(context.run_id) < expected:
        return RunStatus.GENERATING
    prefix_scored = job.store.refusal_prefix_prompt_ids(context.run_id, REFUSAL_OPENINGS)
    if len(prefix_scored) < job.store.count_prompts(context.safety_benchmark_ids):
        return RunStatus.GENERATING
    if job.store.has_unjudged(context.run_id, context.judging):
        return RunStatus.JUDGING
    return None
