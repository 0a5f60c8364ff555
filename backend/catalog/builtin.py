"""The datasets that ship with seedscope: small, written for this project, a demo and not a benchmark."""

from dataclasses import dataclass
from importlib.resources import files

from backend.catalog.adapters import parse_benchmark
from backend.catalog.records import ExampleRecord, PromptRecord
from backend.catalog.training_sets import parse_training_jsonl


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    version: str
    filename: str
    description: str

    def read_text(self) -> str:
        return files("backend.catalog").joinpath("data", self.filename).read_text(encoding="utf-8")


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

BUILTIN_BENCHMARKS = (HARMFUL_DEMO,)
BUILTIN_TRAINING_SETS = (BENIGN_DEMO,)


def benchmark_records(dataset: BuiltinDataset) -> list[PromptRecord]:
    return parse_benchmark(dataset.read_text(), "jsonl")


def training_records(dataset: BuiltinDataset) -> list[ExampleRecord]:
    return parse_training_jsonl(dataset.read_text())
