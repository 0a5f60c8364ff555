"""The experiment definition users submit (form, YAML or JSON), validated once here.

The same models describe what is stored (backend.models keeps them typed in their JSON columns): the
experiment's definition as submitted, and each condition as a StoredCondition, with what it left to the
experiment filled in, so the worker, the dashboard and the exports read back exactly what the user asked for.
"""

from typing import Annotated, Self

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from backend.api_models.base import UserInput
from backend.catalog.base_models import EMBEDDED_PREFIX, LLAMA_LINEAR_MODULES
from backend.domain import JudgeRef
from backend.judging.builtins import DEFAULT_JUDGE

SEED_LIMIT = 2**31 - 1
Seed = Annotated[int, Field(ge=0, le=SEED_LIMIT)]
# A module name or dotted path as peft matches them ("q_proj", "mlp.down_proj").
ModuleName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_]\w*(\.\w+)*$")]


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


class GenerationSpec(_Spec):
    # 0 means greedy decoding; the sampling seed then changes nothing.
    temperature: float = Field(0.0, ge=0, le=5)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(64, ge=1, le=4096)
    samples_per_prompt: int = Field(1, ge=1, le=100)


class PinnedSeeds(_Spec):
    """Seeds held fixed across a condition's runs, so only the others vary with the run seed."""

    lora_init: Seed | None = None
    data_order: Seed | None = None
    data_subset: Seed | None = None
    sampling: Seed | None = None

    def pinned(self) -> dict[str, int]:
        """The pinned seeds by name ("lora_init", ...)."""
        return {name: seed for name, seed in self if seed is not None}


class ConditionSpec(_Spec):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-+= ]*$")
    # False makes this the untuned baseline: the base model is evaluated as it is.
    finetune: bool = True
    lora: LoraSpec = Field(default_factory=LoraSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    # None: the experiment's generation settings.
    generation: GenerationSpec | None = None
    # None: the experiment's seeds.
    seeds: list[Seed] | None = Field(None, min_length=1)
    pin_seeds: PinnedSeeds = Field(default_factory=PinnedSeeds)


class StoredCondition(ConditionSpec):
    """A condition as stored with its experiment (ExperimentSpec.resolve): every setting it left to the
    experiment filled in, so whatever reads it needs nothing else. A setting a condition may leave to its
    experiment goes here too, required."""

    generation: GenerationSpec
    seeds: list[Seed] = Field(min_length=1)


class ExperimentSpec(_Spec):
    # The project it belongs to, by id or name; None: the submitter's first project.
    project: int | str | None = None
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    # "embedded:smollm2-135m-aligned", a Hugging Face hub id ("org/name"), or a local directory.
    base_model: str = Field("embedded:smollm2-135m-aligned", min_length=1, max_length=500)
    base_model_revision: str | None = Field(None, min_length=1, max_length=200)
    benchmark: str = Field(
        min_length=1, max_length=260, description="a benchmark name, optionally name@version"
    )
    training_set: str = Field(
        min_length=1, max_length=260, description="a training set name, optionally name@version"
    )
    # Judge definitions, `name` (its newest version) or `name@version`; pinned to versions at submit. The
    # first one's verdicts make the headline rate.
    judges: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=lambda: [DEFAULT_JUDGE], min_length=1, max_length=20
    )
    seeds: list[Seed] = Field(min_length=1, max_length=1000)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    conditions: list[ConditionSpec] = Field(min_length=1, max_length=200)

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
        if not self.base_model.startswith(EMBEDDED_PREFIX):
            return self
        for condition in self.conditions:
            unknown = sorted(set(condition.lora.target_modules) - LLAMA_LINEAR_MODULES)
            if condition.finetune and unknown:
                raise ValueError(
                    f"condition {condition.name!r}: lora.target_modules {unknown} are not layers of "
                    f"{self.base_model}; choose from {sorted(LLAMA_LINEAR_MODULES)}"
                )
        return self

    def resolve(self, condition: ConditionSpec, seeds: list[int] | None = None) -> StoredCondition:
        """`condition` as stored: what it leaves to the experiment taken from the experiment. Without seeds
        of its own it runs `seeds` when given (a condition added later pairs with the fine-tuned ones),
        else the experiment's."""
        return StoredCondition.model_validate(
            {
                **dict(condition),
                "generation": condition.generation or self.generation,
                "seeds": condition.seeds or seeds or self.seeds,
            }
        )

    def resolved_conditions(self) -> list[StoredCondition]:
        """Every condition as it will be stored."""
        return [self.resolve(condition) for condition in self.conditions]
