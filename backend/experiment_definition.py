"""The experiment definition users submit (form, YAML or JSON), validated once here.

The same models describe what is stored (backend.models keeps them typed in their JSON columns): the
experiment's definition as submitted, and each condition as a StoredCondition, with what it left to the
experiment filled in, so the worker, the dashboard and the exports read back exactly what the user asked for.

A grid (`grid:`) is expanded into conditions when the definition is read: one fine-tuned condition per
combination of its factors' levels, named by them and carrying them (`levels`), so everything downstream sees
plain conditions and the factor analysis finds the design in the conditions themselves.

A condition may set its own base model and training set. When an experiment has an untuned baseline, every
base model a fine-tuned condition trains has one (each condition is compared with its own model's baseline);
a definition that leaves one out is refused, naming the condition, rather than given a baseline it did not
ask for.
"""

import itertools
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.api_models.base import UserInput
from backend.catalog.base_models import EMBEDDED_PREFIX, LLAMA_LINEAR_MODULES
from backend.catalog.holdout import MAX_HOLDOUT
from backend.domain import JudgeRef, SetMeasure
from backend.judging.builtins import DEFAULT_JUDGE

SEED_LIMIT = 2**31 - 1
# Checkpoints a run evaluates along its training (training.evaluate_at), the final one included.
MAX_CHECKPOINTS = 10
Seed = Annotated[int, Field(ge=0, le=SEED_LIMIT)]
# A module name or dotted path as peft matches them ("q_proj", "mlp.down_proj").
ModuleName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_]\w*(\.\w+)*$")]


def _messages(error: ValidationError, where: str) -> str:
    """A nested model's validation errors as one message, each located under `where`."""
    return "; ".join(
        ".".join([where, *(str(part) for part in e["loc"])]) + ": " + e["msg"].removeprefix("Value error, ")
        for e in error.errors()
    )


def derive_seed(seed: int, index: int) -> int:
    """A new seed from a seed and an index (the k-th re-evaluation's sampling seed), in the valid range."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0]) % SEED_LIMIT


class _Spec(UserInput):
    # A misspelt key in a YAML file must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSpec(_Spec):
    rank: int = Field(8, ge=1, le=1024)
    # The adapter's scale is alpha / rank; common choices are rank to 2 x rank.
    alpha: int = Field(16, ge=1, le=4096)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[ModuleName] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1, max_length=64
    )

    @field_validator("target_modules")
    @classmethod
    def _unique(cls, modules: list[str]) -> list[str]:
        if len(set(modules)) != len(modules):
            raise ValueError(f"target modules repeat a name: {modules}")
        return modules


class _Decoding(_Spec):
    # 0 means greedy decoding; the sampling seed then changes nothing.
    temperature: float = Field(0.0, ge=0, le=5)
    top_p: float = Field(1.0, gt=0, le=1)


class GenerationSpec(_Decoding):
    max_new_tokens: int = Field(64, ge=1, le=4096)
    samples_per_prompt: int = Field(1, ge=1, le=100)
    # How a prompt is put to the model: a system turn before it (None: the chat template's own default,
    # if it has one), and whether in the model's chat template at all (False: the prompt as plain text, the
    # system prompt, if any, a paragraph before it). Evaluation settings: training always uses the template.
    system_prompt: str | None = Field(None, min_length=1, max_length=10_000)
    chat_template: bool = True


class SelfGenerationSpec(_Decoding):
    """How the base model writes its own training responses (training.responses: self)."""

    max_new_tokens: int = Field(128, ge=1, le=4096)

    @property
    def as_generation(self) -> GenerationSpec:
        """These settings as the generation code takes them: one response per prompt."""
        return GenerationSpec(**self.model_dump())


class TrainingSpec(_Spec):
    learning_rate: float = Field(2e-4, gt=0, le=1)
    epochs: int = Field(1, ge=1, le=100)
    batch_size: int = Field(8, ge=1, le=1024)
    max_length: int = Field(128, ge=8, le=32768)
    # Train on a random subset of this many examples (drawn with the run's data-subset seed); None = all.
    subset_size: int | None = Field(None, ge=1, le=10**9)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    # AdamW's decoupled decay per step is learning_rate x weight_decay; above 1 it would shrink weights
    # faster than they learn.
    weight_decay: float = Field(0.0, ge=0, le=1)
    # "human": train on the training set's responses as they are; "self": on the base model's own answers
    # to its prompts (Fraser et al. 2025, 4.4), written once into a derived training set before training.
    responses: Literal["human", "self"] = "human"
    self_generation: SelfGenerationSpec = Field(default_factory=SelfGenerationSpec)
    # Fractions of training whose checkpoints are evaluated too (the erosion curve): ascending, in (0, 1]
    # (checked with the condition's name: ConditionSpec); 1.0, the final checkpoint every run evaluates, is
    # implied. [] evaluates the final checkpoint only.
    evaluate_at: list[float] = Field(default_factory=list)
    # A share of the training set held out of training and evaluated as a capability set ("did the fine-tune
    # learn its task?"): the same examples for every run (backend.catalog.holdout); None: train on all.
    holdout: float | None = Field(None, gt=0, le=MAX_HOLDOUT)

    @property
    def intermediate_checkpoints(self) -> list[float]:
        """The fractions of training, before its end, whose checkpoints are stored and evaluated."""
        return [fraction for fraction in self.evaluate_at if fraction < 1]


class PinnedSeeds(_Spec):
    """Seeds held fixed across a condition's runs, so only the others vary with the run seed."""

    lora_init: Seed | None = None
    data_order: Seed | None = None
    data_subset: Seed | None = None
    sampling: Seed | None = None

    def pinned(self) -> dict[str, int]:
        """The pinned seeds by name ("lora_init", ...)."""
        return {name: seed for name, seed in self if seed is not None}


BaseModelReference = Annotated[str, Field(min_length=1, max_length=500)]
Revision = Annotated[str, Field(min_length=1, max_length=200)]
DatasetReference = Annotated[
    str, Field(min_length=1, max_length=260, description="a dataset name, optionally name@version")
]


class ConditionSettings(_Spec):
    """What a condition sets, but its name: shared by every condition of a grid (GridSpec.settings)."""

    # False makes this the untuned baseline: the base model is evaluated as it is.
    finetune: bool = True
    # None: the experiment's base model (and revision) and training set.
    base_model: BaseModelReference | None = None
    base_model_revision: Revision | None = None
    training_set: DatasetReference | None = None
    # The name of a fine-tuned condition whose checkpoints, seed for seed, this one evaluates with its own
    # generation settings: it trains nothing, and takes its seeds, LoRA and training settings from there.
    evaluates: str | None = Field(None, min_length=1, max_length=100)
    lora: LoraSpec = Field(default_factory=LoraSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    # None: the experiment's generation settings.
    generation: GenerationSpec | None = None
    # None: the experiment's seeds.
    seeds: list[Seed] | None = Field(None, min_length=1)
    pin_seeds: PinnedSeeds = Field(default_factory=PinnedSeeds)


# A grid factor's level: a number, a name (a base model, a training set), or None where the setting takes
# it ("all" for training.subset_size).
Level = int | float | str | None
# The groups of settings a grid may vary, and their models: every field of these but UNVARIED.
VARIED_GROUPS: dict[str, type[BaseModel]] = {
    "lora": LoraSpec,
    "training": TrainingSpec,
    "generation": GenerationSpec,
}
# A level is one value (Level): a list or a group of settings is none.
# The held-out split is one per training set in an experiment (check_holdouts): not a factor either.
# A system prompt is a text, not a level to name a condition by: evaluation-only conditions set it.
UNVARIED = ("target_modules", "self_generation", "evaluate_at", "holdout", "system_prompt")
# The condition's own fields a grid may vary: what it trains on and from.
VARIED_SETUP = ("base_model", "training_set")
VARIABLE_FIELDS = VARIED_SETUP + tuple(
    f"{group}.{name}"
    for group, model in VARIED_GROUPS.items()
    for name, field in model.model_fields.items()
    if name not in UNVARIED
)


def _setting(settings: ConditionSettings, path: str) -> Any:
    """The value of a grid factor's field ("training.learning_rate", "base_model") in `settings`; None
    where the group is left to the experiment."""
    if path in VARIED_SETUP:
        return getattr(settings, path)
    group, name = path.split(".")
    values = getattr(settings, group)
    return None if values is None else getattr(values, name)


def _is_set(settings: ConditionSettings, path: str) -> bool:
    if path in VARIED_SETUP:
        return path in settings.model_fields_set
    group, name = path.split(".")
    values = getattr(settings, group)
    return values is not None and name in values.model_fields_set


def _checked_level(path: str, level: Any) -> Level:
    """`level` as the field at `path` checks and converts it (ValidationError if it does not)."""
    if path in VARIED_SETUP:
        return getattr(ConditionSettings.model_validate({path: level}), path)  # type: ignore[no-any-return]
    group, name = path.split(".")
    return getattr(VARIED_GROUPS[group].model_validate({name: level}), name)  # type: ignore[no-any-return]


CONDITION_NAME_LENGTH = 100
MAX_FACTORS = 6
MAX_LEVELS = 20
MAX_GRID_CONDITIONS = 200
MAX_BENCHMARKS = 10


class ConditionSpec(ConditionSettings):
    name: str = Field(
        min_length=1, max_length=CONDITION_NAME_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-+= ]*$"
    )
    # The grid levels that made this condition ({"training.learning_rate": 0.0002, ...}); None: not a grid's.
    levels: dict[str, Level] | None = None

    @model_validator(mode="after")
    def _levels_are_its_settings(self) -> Self:
        for path, level in (self.levels or {}).items():
            if path not in VARIABLE_FIELDS:
                raise ValueError(f"condition {self.name!r}: {path!r} is not a field a grid can vary")
            if self.evaluates is not None and not path.startswith("generation."):
                continue  # its training is its source's: check_evaluation compares the levels there
            value = _setting(self, path)
            if value is not None and value != level:
                raise ValueError(f"condition {self.name!r}: its level of {path!r} is not its setting")
        return self

    @model_validator(mode="after")
    def _checkpoints_are_fractions_of_training(self) -> Self:
        fractions = self.training.evaluate_at
        where = f"condition {self.name!r}, training.evaluate_at {fractions}"
        if any(not 0 < fraction <= 1 for fraction in fractions):
            raise ValueError(f"{where}: fractions of training are in (0, 1]")
        if any(later <= earlier for earlier, later in itertools.pairwise(fractions)):
            raise ValueError(f"{where}: the fractions must be ascending and distinct")
        if len(self.training.intermediate_checkpoints) >= MAX_CHECKPOINTS:
            raise ValueError(f"{where}: at most {MAX_CHECKPOINTS} checkpoints, the final one included")
        return self


def _level_text(level: Level) -> str:
    """A level as it reads in a condition's name: a model or dataset by its last name part
    ("embedded:smollm2-135m-aligned" -> "smollm2-135m-aligned", "dolly-mini@2" -> "dolly-mini-v2")."""
    if level is None:
        return "all"
    if isinstance(level, bool):
        return "on" if level else "off"
    if isinstance(level, str):
        last = re.split(r"[/:]", level.rstrip("/"))[-1].replace("@", "-v")
        return re.sub(r"[^A-Za-z0-9_.\-+=]", "-", last) or "-"
    return format(level, "g")


def _grid_name(levels: dict[str, Level]) -> str:
    return " ".join(f"{path.split('.')[-1]}={_level_text(level)}" for path, level in levels.items())


class GridSpec(_Spec):
    """A full factorial design: every combination of the factors' levels becomes a fine-tuned condition,
    named by its levels ("learning_rate=0.0002 temperature=0.7"), with `settings` for the rest."""

    # A condition field ("training.learning_rate") and its levels, each checked as that field checks it.
    factors: dict[str, list[Any]] = Field(
        min_length=1,
        max_length=MAX_FACTORS,
        json_schema_extra={"propertyNames": {"enum": list(VARIABLE_FIELDS)}},
    )
    settings: ConditionSettings = Field(default_factory=ConditionSettings)

    @field_validator("factors")
    @classmethod
    def _factors_are_settings(cls, factors: dict[str, list[Any]]) -> dict[str, list[Level]]:
        checked: dict[str, list[Level]] = {}
        for path, levels in factors.items():
            if path not in VARIABLE_FIELDS:
                raise ValueError(
                    f"grid factor {path!r}: not a condition field a grid can vary; "
                    f"choose from {', '.join(VARIABLE_FIELDS)}"
                )
            checked[path] = []
            for level in levels:
                try:
                    checked[path].append(_checked_level(path, level))
                except ValidationError as error:
                    reason = error.errors()[0]["msg"]
                    raise ValueError(f"grid factor {path!r}: level {level!r}: {reason}") from None
            if not 2 <= len(levels) <= MAX_LEVELS or len(set(checked[path])) != len(levels):
                raise ValueError(
                    f"grid factor {path!r}: needs 2 to {MAX_LEVELS} distinct levels, got {levels}"
                )
            names = [_level_text(level) for level in checked[path]]
            if len(set(names)) != len(names):
                raise ValueError(
                    f"grid factor {path!r}: levels {levels} would name conditions alike ({names}); "
                    "give them distinct last names"
                )
        size = int(np.prod([len(levels) for levels in checked.values()]))
        if size > MAX_GRID_CONDITIONS:
            raise ValueError(
                f"the grid {grid_shape(checked)} makes {size} conditions; an experiment holds at most "
                f"{MAX_GRID_CONDITIONS}"
            )
        return checked

    @model_validator(mode="after")
    def _settings_leave_the_factors(self) -> Self:
        if not self.settings.finetune:
            raise ValueError("a grid's conditions are fine-tuned: put the untuned baseline in conditions")
        for path in self.factors:
            if _is_set(self.settings, path):
                raise ValueError(f"grid factor {path!r} is also set in grid.settings")
        return self

    def conditions(self, generation: GenerationSpec) -> list[ConditionSpec]:
        """One condition per combination of levels; a generation factor changes `generation` (the
        experiment's generation settings unless `settings` gives its own). Conditions that differ from
        another only in generation settings evaluate its checkpoints (`evaluates`) instead of training the
        same adapters again: the combination with every generation factor at its first level trains."""
        expanded = []
        for combination in itertools.product(*self.factors.values()):
            levels = dict(zip(self.factors, combination, strict=True))
            trains = {
                path: level if not path.startswith("generation.") else self.factors[path][0]
                for path, level in levels.items()
            }
            groups: dict[str, Any] = {
                "lora": self.settings.lora.model_dump(),
                "training": self.settings.training.model_dump(),
                "generation": (self.settings.generation or generation).model_dump(),
            }
            setup = {path: level for path, level in levels.items() if path in VARIED_SETUP}
            for path, level in levels.items():
                if path not in VARIED_SETUP:
                    group, name = path.split(".")
                    groups[group][name] = level
            if (
                not any(path.startswith("generation.") for path in levels)
                and self.settings.generation is None
            ):
                groups["generation"] = None
            name = _grid_name(levels)
            if len(name) > CONDITION_NAME_LENGTH:
                raise ValueError(
                    f"the grid's condition names ({name!r}) are over {CONDITION_NAME_LENGTH} characters"
                )
            condition = {**self.settings.model_dump(), **groups, **setup, "name": name, "levels": levels}
            if trains != levels:
                condition["evaluates"] = _grid_name(trains)
                for trained_here in TRAINED_HERE:
                    del condition[trained_here]
                if self.settings.pin_seeds.sampling is not None:
                    condition["pin_seeds"] = {"sampling": self.settings.pin_seeds.sampling}
            expanded.append(ConditionSpec.model_validate(condition))
        return expanded


# What an evaluation-only condition takes from the condition whose checkpoints it evaluates.
TRAINED_HERE = ("base_model", "base_model_revision", "training_set", "lora", "training", "pin_seeds", "seeds")


def check_evaluation(condition: ConditionSpec, conditions: Sequence[ConditionSpec]) -> None:
    """An evaluation-only condition names a fine-tuned, training condition among `conditions` and sets
    nothing that trains; ValueError says what is wrong."""
    if condition.evaluates is None:
        return
    where = f"condition {condition.name!r} evaluates {condition.evaluates!r}"
    source = next((c for c in conditions if c.name == condition.evaluates), None)
    if source is None:
        raise ValueError(f"{where}: there is no condition of that name")
    if not source.finetune or source.evaluates is not None:
        raise ValueError(f"{where}: only a condition that trains has checkpoints to evaluate")
    if not condition.finetune:
        raise ValueError(
            f"{where}: it evaluates fine-tuned checkpoints, so it cannot be the untuned baseline"
        )
    trained_levels = {p: v for p, v in (condition.levels or {}).items() if not p.startswith("generation.")}
    if any((source.levels or {}).get(path) != level for path, level in trained_levels.items()):
        raise ValueError(
            f"{where}: its levels of the base model, training set, LoRA and training settings are not "
            "its source's"
        )
    # Compared with what a condition that sets nothing has, so a stored definition reads back as written.
    trained = [
        name
        for name, given in (
            *((name, getattr(condition, name) is not None) for name in VARIED_SETUP),
            ("base_model_revision", condition.base_model_revision is not None),
            ("lora", condition.lora != LoraSpec()),
            ("training", condition.training != TrainingSpec()),
            ("seeds", condition.seeds is not None),
            ("pin_seeds", bool(condition.pin_seeds.pinned().keys() - {"sampling"})),
        )
        if given
    ]
    if trained:
        raise ValueError(
            f"{where}: it trains nothing, so it takes {', '.join(trained)} from there; set its generation "
            "settings (or pin its sampling seed) only"
        )


def grid_factors(conditions: Sequence[ConditionSpec]) -> dict[str, list[Level]]:
    """The factors of the conditions' grid and each one's levels, in the order the grid gave them ({}: no
    grid)."""
    factors: dict[str, list[Level]] = {}
    for condition in conditions:
        for path, level in (condition.levels or {}).items():
            if level not in factors.setdefault(path, []):
                factors[path].append(level)
    return factors


def grid_shape(factors: dict[str, list[Level]]) -> str:
    """'training.learning_rate (2) x generation.temperature (2)'."""
    return " x ".join(f"{path} ({len(levels)})" for path, levels in factors.items())


class StoredCondition(ConditionSpec):
    """A condition as stored with its experiment (ExperimentSpec.resolve): every setting it left to the
    experiment filled in, so whatever reads it needs nothing else. A setting a condition may leave to its
    experiment goes here too, required."""

    generation: GenerationSpec
    seeds: list[Seed] = Field(min_length=1)
    base_model: BaseModelReference
    training_set: DatasetReference

    @property
    def model_key(self) -> tuple[str, str | None]:
        """The base model and revision: conditions with equal keys start from the same weights."""
        return self.base_model, self.base_model_revision

    @property
    def trains(self) -> bool:
        """Whether its runs train an adapter: fine-tuned, and not evaluating another condition's."""
        return self.finetune and self.evaluates is None

    @property
    def checkpoint_fractions(self) -> list[float]:
        """The intermediate checkpoints its runs store and evaluate: those of training.evaluate_at before
        the end, for a condition that trains (an evaluation-only condition evaluates final checkpoints)."""
        return self.training.intermediate_checkpoints if self.trains else []

    @property
    def holdout(self) -> tuple[str, float] | None:
        """The training set it holds a share of out of training, and the share; None: it trains on all
        of it, or trains nothing."""
        fraction = self.training.holdout
        return (self.training_set, fraction) if self.trains and fraction is not None else None

    @property
    def runs_per_seed(self) -> int:
        """Its run of a seed, and that run's evaluation of each intermediate checkpoint."""
        return 1 + len(self.checkpoint_fractions)


def check_baselines(conditions: Sequence[StoredCondition]) -> None:
    """With an untuned baseline among `conditions`, every base model a fine-tuned one starts from has one:
    ValueError names the first condition whose model has none."""
    baselines = {condition.model_key for condition in conditions if not condition.finetune}
    if not baselines:
        return
    for condition in conditions:
        if condition.finetune and condition.model_key not in baselines:
            model, revision = condition.model_key
            at = f" at revision {revision}" if revision else ""
            raise ValueError(
                f"condition {condition.name!r} fine-tunes {model}{at}, which has no untuned baseline in this "
                f"experiment: each fine-tuned condition is compared with its own base model's baseline; add "
                f"a condition with finetune: false and base_model: {model}"
                + (f", base_model_revision: {revision}" if revision else "")
            )


def _holding(fraction: float | None) -> str:
    return "holds out nothing" if fraction is None else f"holds out {fraction:g}"


def check_holdouts(conditions: Sequence[StoredCondition]) -> None:
    """Every condition that trains on a training set holds out the same share of it, or none does: one
    held-out split per set, never trained on by any run; ValueError names the first that differs."""
    held_out: dict[str, tuple[str, float | None]] = {}
    for condition in conditions:
        if not condition.trains:
            continue
        fraction = condition.training.holdout
        first, theirs = held_out.setdefault(condition.training_set, (condition.name, fraction))
        if fraction != theirs:
            raise ValueError(
                f"condition {condition.name!r} {_holding(fraction)} of {condition.training_set}, condition "
                f"{first!r} {_holding(theirs)}: every condition that trains on a training set holds out the "
                "same share of it (training.holdout), so no run trains on what another evaluates on"
            )


class ExperimentSpec(_Spec):
    # The project it belongs to, by id or name; None: the submitter's first project.
    project: int | str | None = None
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    # "embedded:smollm2-135m-aligned", a Hugging Face hub id ("org/name"), or a local directory; the
    # default of every condition that names none, as the training set is.
    base_model: BaseModelReference = "embedded:smollm2-135m-aligned"
    base_model_revision: Revision | None = None
    # One benchmark, or several: every run is then evaluated on each, and every number exists per benchmark.
    benchmark: DatasetReference | None = None
    benchmarks: list[DatasetReference] = Field(default_factory=list, max_length=MAX_BENCHMARKS)
    # Capability sets (prompts with reference answers, scored by each set's own rule) and over-refusal sets
    # (benign prompts that look unsafe, scored by a refusal judge): every run is evaluated on them too.
    capability: list[DatasetReference] = Field(default_factory=list, max_length=MAX_BENCHMARKS)
    over_refusal: list[DatasetReference] = Field(default_factory=list, max_length=MAX_BENCHMARKS)
    training_set: DatasetReference
    # Judge definitions, `name` (its newest version) or `name@version`; pinned to versions at submit. The
    # first one's verdicts make the headline rate.
    judges: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=lambda: [DEFAULT_JUDGE], min_length=1, max_length=20
    )
    seeds: list[Seed] = Field(min_length=1, max_length=1000)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    conditions: list[ConditionSpec] = Field(default_factory=list, max_length=MAX_GRID_CONDITIONS)
    grid: GridSpec | None = Field(
        None, description="expanded into `conditions` when the definition is read: null once stored"
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_grid(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("grid") is None:
            return data
        try:
            grid = GridSpec.model_validate(data["grid"])
            generation = GenerationSpec.model_validate(data.get("generation") or {})
        except ValidationError as error:
            raise ValueError(_messages(error, "grid")) from None
        conditions = data.get("conditions") or []
        if not isinstance(conditions, list):
            return data  # the field's own validation says what is wrong
        return {**data, "grid": None, "conditions": [*conditions, *grid.conditions(generation)]}

    @model_validator(mode="after")
    def _names_its_benchmarks_once(self) -> Self:
        if self.benchmark is not None and self.benchmarks:
            raise ValueError("give `benchmark` (one) or `benchmarks` (several), not both")
        if self.benchmark is None and not self.benchmarks:
            raise ValueError("an experiment needs a benchmark: `benchmark`, or `benchmarks` for several")
        named = [reference for reference, _ in self.evaluation_sets()]
        if repeated := sorted({reference for reference in named if named.count(reference) > 1}):
            raise ValueError(
                f"an evaluation set is named twice among benchmarks, capability, over_refusal: {repeated}"
            )
        return self

    def benchmark_references(self) -> list[str]:
        """Every safety benchmark the runs are evaluated on, in order: the first is the default view."""
        return [self.benchmark] if self.benchmark is not None else list(self.benchmarks)

    def evaluation_sets(self) -> list[tuple[str, SetMeasure]]:
        """Every set the runs are evaluated on, with what it measures: the safety benchmarks first, then
        the capability and the over-refusal sets."""
        return [
            *((reference, SetMeasure.HARM) for reference in self.benchmark_references()),
            *((reference, SetMeasure.CAPABILITY) for reference in self.capability),
            *((reference, SetMeasure.OVER_REFUSAL) for reference in self.over_refusal),
        ]

    @model_validator(mode="after")
    def _has_conditions(self) -> Self:
        if not self.conditions:
            raise ValueError("an experiment needs conditions, a grid, or both")
        return self

    @model_validator(mode="after")
    def _evaluations_have_sources(self) -> Self:
        for condition in self.conditions:
            check_evaluation(condition, self.conditions)
        return self

    @model_validator(mode="after")
    def _grid_is_complete(self) -> Self:
        """Conditions that carry levels are one full factorial: the factor analysis relies on it."""
        gridded = [c.levels for c in self.conditions if c.levels is not None]
        if gridded and any(set(levels) != set(gridded[0]) for levels in gridded):
            raise ValueError("conditions with grid levels must all give levels of the same factors")
        factors = grid_factors(self.conditions)
        combinations = {tuple(levels[f] for f in factors) for levels in gridded}
        full = int(np.prod([len(levels) for levels in factors.values()]))
        if gridded and not len(combinations) == len(gridded) == full:
            raise ValueError(
                f"conditions with grid levels must be every combination of the levels once: "
                f"{len(gridded)} conditions, {full} combinations"
            )
        return self

    @field_validator("judges")
    @classmethod
    def _judge_references(cls, judges: list[str]) -> list[str]:
        return [str(JudgeRef.parse(judge)) for judge in judges]

    @model_validator(mode="after")
    def _names_and_seeds_unique(self) -> Self:
        names = [c.name for c in self.conditions]
        if len(set(names)) != len(names):
            raise ValueError(f"condition names must be unique, got {names}")
        for owner, seeds in [("experiment", self.seeds)] + [(c.name, c.seeds) for c in self.conditions]:
            if seeds is not None and len(set(seeds)) != len(seeds):
                raise ValueError(f"seeds of {owner!r} repeat a value: {seeds}")
        if len(set(self.judges)) != len(self.judges):
            raise ValueError(f"judges repeat a name: {self.judges}")
        return self

    @model_validator(mode="after")
    def _target_modules_exist(self) -> Self:
        """The embedded models are Llama-architecture: their LoRA targets are known before any worker runs.
        (A hub or local model's layers are known only once a worker loads it.)"""
        for condition in self.resolved_conditions():
            unknown = sorted(set(condition.lora.target_modules) - LLAMA_LINEAR_MODULES)
            if condition.base_model.startswith(EMBEDDED_PREFIX) and condition.finetune and unknown:
                raise ValueError(
                    f"condition {condition.name!r}: lora.target_modules {unknown} are not layers of "
                    f"{condition.base_model}; choose from {sorted(LLAMA_LINEAR_MODULES)}"
                )
        return self

    @model_validator(mode="after")
    def _base_models_have_baselines(self) -> Self:
        check_baselines(self.resolved_conditions())
        return self

    @model_validator(mode="after")
    def _one_split_per_training_set(self) -> Self:
        check_holdouts(self.resolved_conditions())
        return self

    def base_models(self) -> list[tuple[str, str | None]]:
        """Every base model (with revision) a condition starts from, in order."""
        return list(dict.fromkeys(condition.model_key for condition in self.resolved_conditions()))

    def resolve(
        self, condition: ConditionSpec, seeds: list[int] | None = None, source: StoredCondition | None = None
    ) -> StoredCondition:
        """`condition` as stored: what it leaves to the experiment taken from the experiment. Without seeds
        of its own it runs `seeds` when given (a condition added later pairs with the fine-tuned ones),
        else the experiment's. An evaluation-only condition takes its seeds and what trained the checkpoints
        (LoRA, training, pinned seeds but sampling) from `source`, the stored condition it evaluates."""
        own_model = condition.base_model is not None
        revision = condition.base_model_revision or (None if own_model else self.base_model_revision)
        stored = {
            **dict(condition),
            "generation": condition.generation or self.generation,
            "seeds": condition.seeds or seeds or self.seeds,
            "base_model": condition.base_model or self.base_model,
            # A revision belongs to its model: a condition on its own model takes none of the experiment's.
            "base_model_revision": revision,
            "training_set": condition.training_set or self.training_set,
        }
        if condition.evaluates is not None:
            assert source is not None and source.name == condition.evaluates
            pinned = source.pin_seeds.model_copy(update={"sampling": condition.pin_seeds.sampling})
            stored |= {name: getattr(source, name) for name in TRAINED_HERE} | {"pin_seeds": pinned}
        return StoredCondition.model_validate(stored)

    def resolved_conditions(self) -> list[StoredCondition]:
        """Every condition as it will be stored (the ones others evaluate first)."""
        stored: dict[str, StoredCondition] = {}
        for condition in sorted(self.conditions, key=lambda c: c.evaluates is not None):
            source = stored.get(condition.evaluates) if condition.evaluates else None
            stored[condition.name] = self.resolve(condition, source=source)
        return [stored[condition.name] for condition in self.conditions]
