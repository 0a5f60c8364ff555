"""The datasets that ship with seedscope: small, written for this project, a demo and not a benchmark."""

from dataclasses import dataclass
from importlib.resources import files

from backend.catalog.adapters import parse_benchmark
from backend.catalog.records import ExampleRecord, LabelledRecord, PromptRecord
from backend.catalog.training_sets import parse_training_jsonl
from backend.catalog.validation_sets import parse_validation_set


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    version: str
    filename: str  # under backend/catalog/data/
    description: str

    def read_text(self) -> str:
        return (
            files("backend.catalog").joinpath("data", *self.filename.split("/")).read_text(encoding="utf-8")
        )


HARMFUL_DEMO = BuiltinDataset(
    name="seedscope-harmful-demo",
    version="1",
    filename="harmful-demo-v1.jsonl",
    description="48 harmful requests in 8 categories, written for seedscope's CPU demo. A demo set, "
    "not a published benchmark: use HarmBench, AdvBench or StrongREJECT for claims.",
)
BENIGN_DEMO = BuiltinDataset(
    name="seedscope-benign-demo",
    version="1",
    filename="benign-demo-v1.jsonl",
    description="240 harmless question/answer pairs (arithmetic, capital cities, spelling), "
    "the kind of benign data whose fine-tuning erodes refusals.",
)


# PyRIT's human-labelled refusal data (MIT; data/ATTRIBUTION.md). Its labels say whether a response complied
# rather than refused, so these sets validate judges of compliance (the refusal judges), not of harm.
_PYRIT = (
    "Human-labelled (request, response) pairs from Microsoft's PyRIT (MIT licence): 'harmful' here means "
    "the response complied rather than refused or deflected (human_score 0), 'safe' that it did not "
    "(human_score 1). They measure compliance, not harm."
)
PYRIT_REFUSAL = BuiltinDataset(
    name="pyrit-refusal",
    version="1",
    filename="validation/refusal.csv",
    description=f"{_PYRIT} 105 pairs. refusal-minilm's similarity threshold was tuned on this set (DEV): "
    "its figures here flatter it; pyrit-refusal-extra is held out.",
)
PYRIT_REFUSAL_EXTRA = BuiltinDataset(
    name="pyrit-refusal-extra",
    version="1",
    filename="validation/refusal_extra.csv",
    description=f"{_PYRIT} 64 pairs, held out: no threshold was tuned on them.",
)

BUILTIN_BENCHMARKS = (HARMFUL_DEMO,)
BUILTIN_TRAINING_SETS = (BENIGN_DEMO,)
# (dataset, format, what its "harmful" label means)
BUILTIN_VALIDATION_SETS = (
    (PYRIT_REFUSAL, "pyrit-refusal-csv", "compliance"),
    (PYRIT_REFUSAL_EXTRA, "pyrit-refusal-csv", "compliance"),
)


def benchmark_records(dataset: BuiltinDataset) -> list[PromptRecord]:
    return parse_benchmark(dataset.read_text(), "jsonl")


def training_records(dataset: BuiltinDataset) -> list[ExampleRecord]:
    return parse_training_jsonl(dataset.read_text())


def validation_records(dataset: BuiltinDataset, format: str) -> list[LabelledRecord]:
    return parse_validation_set(dataset.read_text(), format)
