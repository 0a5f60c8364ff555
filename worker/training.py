"""LoRA fine-tuning of a causal LM on chat examples, with separate seeds for init, order and subset."""

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup, set_seed

from backend.catalog.records import ExampleRecord
from backend.experiment_definition import LoraSpec, TrainingSpec
from worker.chat import pad_batch, training_feature
from worker.device import autocast

# step, total steps, loss of that step
StepCallback = Callable[[int, int, float], None]
# fraction of training, its step, and the model as trained up to that step
CheckpointCallback = Callable[[float, int, PeftModel], None]


@dataclass(frozen=True)
class TrainingSeeds:
    lora_init: int  # LoRA weight init, and dropout masks, which draw from the same generator afterwards
    data_order: int  # shuffling of the examples each epoch
    data_subset: int  # which examples, when training on a subset


@dataclass(frozen=True)
class TrainingResult:
    n_examples: int
    steps: int
    losses: list[float]
    seconds: float


def build_lora_config(spec: LoraSpec) -> LoraConfig:
    """The one place a LoraSpec becomes a peft config."""
    return LoraConfig(
        r=spec.rank,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=list(spec.target_modules),
        bias="none",
        task_type=TaskType.CAUSAL_LM,
    )


def select_subset(n_examples: int, subset_size: int | None, seed: int) -> list[int]:
    """Indices of the examples to train on: all, or a seeded random subset kept in dataset order."""
    if subset_size is None:
        return list(range(n_examples))
    if subset_size > n_examples:
        raise ValueError(f"subset_size {subset_size} exceeds the training set's {n_examples} examples")
    chosen = np.random.default_rng(seed).choice(n_examples, size=subset_size, replace=False)
    return sorted(int(i) for i in chosen)


def checkpoint_step(fraction: float, total_steps: int) -> int:
    """The step nearest `fraction` of training, at least the first (a half rounds up)."""
    return max(1, math.floor(fraction * total_steps + 0.5))


def train_lora(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[ExampleRecord],
    lora: LoraSpec,
    training: TrainingSpec,
    seeds: TrainingSeeds,
    on_step: StepCallback | None = None,
    checkpoints: Sequence[float] = (),
    on_checkpoint: CheckpointCallback | None = None,
) -> tuple[PeftModel, TrainingResult]:
    """Wrap `model` with a fresh LoRA adapter and train it; returns the adapted model in eval mode. At each
    fraction of training in `checkpoints` (its step: checkpoint_step), `on_checkpoint` gets the model as
    trained so far (saving it draws no random number, so training goes on exactly as without)."""
    started = time.perf_counter()
    chosen = select_subset(len(examples), training.subset_size, seeds.data_subset)
    features = [
        training_feature(tokenizer, examples[i].prompt, examples[i].response, training.max_length)
        for i in chosen
    ]
    # Seed first (peft examples): LoRA's A matrices are drawn from torch's global generator.
    set_seed(seeds.lora_init)
    peft_model = get_peft_model(model, build_lora_config(lora))
    device = next(model.parameters()).device
    steps_per_epoch = math.ceil(len(features) / training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    # Fractions close together in a short training share a step; each still gets its checkpoint.
    at_step: dict[int, list[float]] = defaultdict(list)
    for fraction in checkpoints:
        at_step[checkpoint_step(fraction, total_steps)].append(fraction)
    optimizer = torch.optim.AdamW(
        [p for p in peft_model.parameters() if p.requires_grad],
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
    )
    schedule = get_linear_schedule_with_warmup(
        optimizer, round(training.warmup_ratio * total_steps), total_steps
    )
    order_rng = np.random.default_rng(seeds.data_order)
    losses: list[float] = []
    peft_model.train()
    for _epoch in range(training.epochs):
        order = order_rng.permutation(len(features))
        for start in range(0, len(features), training.batch_size):
            batch = pad_batch(
                [features[i] for i in order[start : start + training.batch_size]], tokenizer.pad_token_id
            )
            tensors = {key: torch.tensor(value, device=device) for key, value in batch.items()}
            with autocast(device):
                loss = peft_model(**tensors).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(peft_model.parameters(), max_norm=1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(len(losses), total_steps, losses[-1])
            if on_checkpoint is not None:
                for fraction in at_step.get(len(losses), []):
                    on_checkpoint(fraction, len(losses), peft_model)
    peft_model.eval()
    return peft_model, TrainingResult(len(features), total_steps, losses, time.perf_counter() - started)
