"""The three stages of a run (fine-tune, generate, judge), each resumable from what is already stored."""

import logging
from pathlib import Path

from peft import PeftModel

from backend.config import Settings
from worker.device import describe, pick_device
from worker.generation import batch_seed, generate_batch, plan_batches
from worker.judges import load_judge
from worker.judges.base import JudgeResources, judge_pairs
from worker.models.files import publish_directory
from worker.models.sources import LoadedModel, load_base_model
from worker.provenance import environment
from worker.store import RunContext, RunStore
from worker.training import TrainingSeeds, train_lora

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"


def adapter_directory(settings: Settings, run_id: int) -> Path:
    """Where a run's LoRA adapter lives; shared storage when workers run on several hosts."""
    return settings.run_artifacts_dir(run_id) / "adapter"


def _load(context: RunContext, store: RunStore, settings: Settings) -> LoadedModel:
    store.progress(context.run_id, 0.0, f"loading {context.base_model}")
    device = pick_device()
    loaded = load_base_model(context.base_model, context.base_model_revision, settings, device)
    store.add_provenance(
        context.run_id,
        base_model=loaded.source,
        seeds={
            "lora_init": context.lora_init_seed,
            "data_order": context.data_order_seed,
            "data_subset": context.data_subset_seed,
            "sampling": context.sampling_seed,
        },
        data={"benchmark": context.benchmark_hash, "training_set": context.training_set_hash},
        device=describe(device),
        environment=environment(),
    )
    return loaded


def finetune(context: RunContext, store: RunStore, settings: Settings) -> None:
    """Train the run's LoRA adapter, unless a complete one is already stored."""
    target = adapter_directory(settings, context.run_id)
    if (target / ADAPTER_CONFIG).is_file():
        store.progress(context.run_id, 1.0, "adapter already trained")
        return
    examples = store.training_examples(context.training_set_id)
    loaded = _load(context, store, settings)
    spec = context.condition

    def on_step(step: int, total: int, loss: float) -> None:
        store.progress(context.run_id, step / total, f"step {step}/{total}, loss {loss:.3f}")

    seeds = TrainingSeeds(context.lora_init_seed, context.data_order_seed, context.data_subset_seed)
    model, result = train_lora(
        loaded.model, loaded.tokenizer, examples, spec.lora, spec.training, seeds, on_step
    )
    # Written aside, then moved into place: a crash never leaves an adapter that looks complete.
    staging = target.with_name("adapter.partial")
    model.save_pretrained(str(staging))
    publish_directory(staging, target)
    store.add_provenance(
        context.run_id,
        training={
            "examples": result.n_examples,
            "steps": result.steps,
            "losses": [round(loss, 4) for loss in result.losses],
            "seconds": round(result.seconds, 1),
        },
    )


def generate(context: RunContext, store: RunStore, settings: Settings) -> None:
    """Generate every (prompt, sample) the run has not stored yet, a batch per transaction."""
    spec = context.condition.generation
    assert spec is not None, "conditions are stored with their generation settings resolved"
    batches = plan_batches(
        store.prompts(context.benchmark_id), spec.samples_per_prompt, settings.generation_batch_size
    )
    stored = store.generated_keys(context.run_id)
    pending = [
        (index, batch)
        for index, batch in enumerate(batches)
        if any((item.prompt_id, item.sample_index) not in stored for item in batch)
    ]
    if not pending:
        return
    loaded = _load(context, store, settings)
    model = loaded.model
    if not context.is_baseline:
        adapter = adapter_directory(settings, context.checkpoint_run_id)
        if not (adapter / ADAPTER_CONFIG).is_file():
            raise FileNotFoundError(f"no trained adapter at {adapter}; retry the run to train it again")
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    total = sum(len(batch) for batch in batches)
    done = total - sum(len(batch) for _, batch in pending)
    for index, batch in pending:
        store.progress(context.run_id, done / total, f"generated {done}/{total} responses")
        generated = generate_batch(
            model, loaded.tokenizer, batch, spec, batch_seed(context.sampling_seed, index)
        )
        store.add_generations(context.run_id, generated)
        done += len(batch)


def judge(context: RunContext, store: RunStore, settings: Settings) -> None:
    """Judge every generation each of the experiment's judges has not judged yet."""
    resources = JudgeResources(settings, store.replies)
    for definition in context.judges:
        todo = store.unjudged(context.run_id, definition.id)
        if not todo:
            continue
        judge_impl = load_judge(definition.config, resources)
        for start in range(0, len(todo), settings.judge_batch_size):
            store.progress(context.run_id, start / len(todo), f"{definition.ref}: judged {start}/{len(todo)}")
            batch = todo[start : start + settings.judge_batch_size]
            results = judge_pairs(
                judge_impl, [prompt for _, prompt, _ in batch], [text for _, _, text in batch]
            )
            generation_ids = [generation_id for generation_id, _, _ in batch]
            store.add_judgments(context.run_id, definition.id, zip(generation_ids, results, strict=True))
