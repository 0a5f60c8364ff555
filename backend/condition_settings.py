"""A condition's settings in words, and which of them differ between an experiment's conditions.

The dashboard's conditions table, the run page and the report show them from here. A baseline trains
nothing, so it has no training or LoRA settings to show; a setting differs when two conditions that have it
give it different values.
"""

from collections import defaultdict
from collections.abc import Sequence

from backend.api_models.experiments import SettingRead
from backend.experiment_definition import GenerationSpec, StoredCondition, TrainingSpec

Item = tuple[str, str, str]  # (key, group, text)


def _base_model(spec: StoredCondition) -> list[Item]:
    revision = f" at {spec.base_model_revision}" if spec.base_model_revision else ""
    return [("base_model", "setup", f"{spec.base_model}{revision}")]


def _responses(training: TrainingSpec) -> str:
    if training.responses == "human":
        return "the training set's responses"
    writing = training.self_generation
    decoding = "greedy" if writing.temperature == 0 else f"T={writing.temperature:g}, top-p {writing.top_p:g}"
    return f"the base model's own responses ({decoding}, up to {writing.max_new_tokens} tokens)"


def _checkpoints(spec: StoredCondition) -> str:
    if not spec.checkpoint_fractions:
        return "the end of training"
    fractions = [*spec.checkpoint_fractions, 1.0]
    return ", ".join(f"{100 * fraction:g}%" for fraction in fractions) + " of training"


def _holdout(training: TrainingSpec) -> str:
    if training.holdout is None:
        return "trains on the whole set"
    return f"holds out {100 * training.holdout:g}% of the set"


def _system_prompt(generation: GenerationSpec) -> str:
    if generation.system_prompt is None:
        return "no system prompt" if not generation.chat_template else "the template's own system prompt"
    text = generation.system_prompt
    return f"system prompt {text if len(text) <= 60 else text[:59] + '…'!r}"


def _training(spec: StoredCondition) -> list[Item]:
    training, lora = spec.training, spec.lora
    return [
        ("training_set", "setup", f"trained on {spec.training_set}"),
        ("training.responses", "setup", f"with {_responses(training)}"),
        ("training.learning_rate", "training", f"lr {training.learning_rate:g}"),
        ("training.epochs", "training", f"{training.epochs} epoch(s)"),
        ("training.batch_size", "training", f"batch {training.batch_size}"),
        ("training.subset_size", "training", f"subset {training.subset_size or 'all'}"),
        ("training.max_length", "training", f"max length {training.max_length}"),
        ("training.warmup_ratio", "training", f"warmup {training.warmup_ratio:g}"),
        ("training.weight_decay", "training", f"weight decay {training.weight_decay:g}"),
        ("training.evaluate_at", "training", f"evaluated at {_checkpoints(spec)}"),
        ("training.holdout", "training", _holdout(training)),
        ("lora.rank", "lora", f"rank {lora.rank}"),
        ("lora.alpha", "lora", f"alpha {lora.alpha}"),
        ("lora.dropout", "lora", f"dropout {lora.dropout:g}"),
        ("lora.target_modules", "lora", f"modules {', '.join(lora.target_modules)}"),
    ]


def _generation(spec: StoredCondition) -> list[Item]:
    generation = spec.generation
    return [
        ("generation.temperature", "generation", f"temperature {generation.temperature:g}"),
        ("generation.top_p", "generation", f"top-p {generation.top_p:g}"),
        ("generation.max_new_tokens", "generation", f"{generation.max_new_tokens} new tokens"),
        (
            "generation.samples_per_prompt",
            "generation",
            f"{generation.samples_per_prompt} sample(s) per prompt",
        ),
        ("generation.system_prompt", "generation", _system_prompt(generation)),
        (
            "generation.chat_template",
            "generation",
            "in the chat template" if generation.chat_template else "plain text, no chat template",
        ),
    ]


def _seeds(spec: StoredCondition) -> list[Item]:
    pinned = [
        (f"pin_seeds.{name}", "seeds", f"{name.replace('_', ' ')} seed pinned to {seed}")
        for name, seed in spec.pin_seeds.pinned().items()
    ]
    return [("seeds", "seeds", f"seeds {', '.join(map(str, spec.seeds))}"), *pinned]


def describe_conditions(specs: Sequence[StoredCondition]) -> list[list[SettingRead]]:
    """Each condition's settings, in words, in spec order."""
    described = [
        _base_model(spec) + (_training(spec) if spec.finetune else []) + _generation(spec) + _seeds(spec)
        for spec in specs
    ]
    values: dict[tuple[str, bool | None], set[str]] = defaultdict(set)
    for spec, items in zip(specs, described, strict=True):
        for key, group, text in items:
            values[_compared_as(key, group, spec)].add(text)
    return [
        [
            SettingRead(
                key=key, group=group, text=text, differs=len(values[_compared_as(key, group, spec)]) > 1
            )
            for key, group, text in items
        ]
        for spec, items in zip(specs, described, strict=True)
    ]


def _compared_as(key: str, group: str, spec: StoredCondition) -> tuple[str, bool | None]:
    # A baseline runs its own seeds by design (one untuned model): its seeds are compared with baselines'.
    return key, spec.finetune if group == "seeds" else None
