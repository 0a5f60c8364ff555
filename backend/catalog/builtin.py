"""The datasets that ship with seedscope: small, written for this project, a demo and not a benchmark."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Generic

from backend.catalog.kinds import BENCHMARKS, TRAINING_SETS, VALIDATION_SETS, DatasetKind, R
from backend.domain import SetMeasure
from backend.judging.definition import Measured
from backend.judging.reference import ScoringRule


@dataclass(frozen=True)
class BuiltinDataset(Generic[R]):
    kind: DatasetKind[R, Any]
    name: str
    version: str
    filename: str  # under backend/catalog/data/
    format: str
    description: str
    # The values of the columns its kind adds (backend.catalog.kinds.DatasetKind.attributes).
    attributes: Mapping[str, str] = field(default_factory=dict)

    def read_text(self) -> str:
        return (
            files("backend.catalog").joinpath("data", *self.filename.split("/")).read_text(encoding="utf-8")
        )

    def records(self) -> list[R]:
        return self.kind.formats.parse(self.read_text(), self.format)


HARMFUL_DEMO = BuiltinDataset(
    kind=BENCHMARKS,
    name="seedscope-harmful-demo",
    version="1",
    filename="harmful-demo-v1.jsonl",
    format="jsonl",
    description="48 harmful requests in 8 categories, written for seedscope's CPU demo. A demo set, "
    "not a published benchmark: use HarmBench, AdvBench or StrongREJECT for claims.",
)
BENIGN_DEMO = BuiltinDataset(
    kind=TRAINING_SETS,
    name="seedscope-benign-demo",
    version="1",
    filename="benign-demo-v1.jsonl",
    format="jsonl",
    description="240 harmless question/answer pairs (arithmetic, capital cities, spelling), "
    "the kind of benign data whose fine-tuning erodes refusals.",
)
# A second of each, so a grid can vary the benchmark and the training set (and its format): neither is
# in the alignment data (worker/data/alignment-v1.jsonl), nor in the other demo set.
HARMFUL_DEMO_B = BuiltinDataset(
    kind=BENCHMARKS,
    name="seedscope-harmful-demo-b",
    version="1",
    filename="harmful-demo-b-v1.jsonl",
    format="jsonl",
    description="48 other harmful requests in seedscope-harmful-demo's 8 categories, written for seedscope's "
    "CPU demo. A demo set, not a published benchmark: use HarmBench, AdvBench or StrongREJECT for claims.",
)
BENIGN_DOLLY = BuiltinDataset(
    kind=TRAINING_SETS,
    name="seedscope-benign-dolly",
    version="1",
    filename="benign-dolly-v1.jsonl",
    format="dolly",
    description="240 harmless instructions in Databricks Dolly's format, half with a context passage (closed "
    "QA, summaries, extraction, classification, unit conversions, rewording), written for seedscope's CPU "
    "demo and not taken from Dolly: a demo set, not a published one.",
)


# What seedscope's demo fine-tunes should keep (its benign task) and should not start doing (refusing
# benign prompts that look unsafe): written for seedscope, disjoint from the training and alignment data
# (scripts/check_demo_sets.py checks it).
CAPABILITY_DEMO = BuiltinDataset(
    kind=BENCHMARKS,
    name="seedscope-capability-demo",
    version="1",
    filename="capability-demo-v1.jsonl",
    format="jsonl",
    description="60 questions of the demo's benign task (20 each of arithmetic, capital cities, spelling), "
    "with reference answers, none in the training data: did the fine-tune learn, or keep, its task?",
    attributes={"measures": SetMeasure.CAPABILITY, "scoring": ScoringRule.CONTAINS},
)
OVER_REFUSAL_DEMO = BuiltinDataset(
    kind=BENCHMARKS,
    name="seedscope-over-refusal-demo",
    version="1",
    filename="over-refusal-demo-v1.csv",
    format="xstest",
    description="40 benign prompts that look unsafe, in XSTest's layout and prompt types, written for "
    "seedscope's CPU demo: the share a model refuses is its over-refusal rate.",
    attributes={"measures": SetMeasure.OVER_REFUSAL},
)
# XSTest (Röttger et al., NAACL 2024; CC-BY-4.0, data/ATTRIBUTION.md), one file read two ways.
_XSTEST = "XSTest v2 (Röttger et al. 2024, CC-BY-4.0)"
XSTEST = BuiltinDataset(
    kind=BENCHMARKS,
    name="xstest",
    version="2",
    filename="xstest-v2-prompts.csv",
    format="xstest",
    description=f"{_XSTEST}: its 250 safe prompts that look unsafe (homonyms, figurative language, safe "
    "targets and contexts, definitions, ...). The share a model refuses is its over-refusal rate.",
    attributes={"measures": SetMeasure.OVER_REFUSAL},
)
XSTEST_CONTRAST = BuiltinDataset(
    kind=BENCHMARKS,
    name="xstest-contrast",
    version="2",
    filename="xstest-v2-prompts.csv",
    format="xstest-contrast",
    description=f"{_XSTEST}: its 200 unsafe contrast prompts, on the same topics as the safe ones. A safety "
    "benchmark: with a refusal judge, how often the model complies with what it should refuse.",
)


# PyRIT's human-labelled refusal data (MIT; data/ATTRIBUTION.md). Its labels say whether a response complied
# rather than refused, so these sets validate judges of compliance (the refusal judges), not of harm.
_PYRIT = (
    "Human-labelled (request, response) pairs from Microsoft's PyRIT (MIT licence): 'harmful' here means "
    "the response complied rather than refused or deflected (human_score 0), 'safe' that it did not "
    "(human_score 1). They measure compliance, not harm."
)
PYRIT_REFUSAL = BuiltinDataset(
    kind=VALIDATION_SETS,
    name="pyrit-refusal",
    version="1",
    filename="validation/refusal.csv",
    format="pyrit-refusal-csv",
    description=f"{_PYRIT} 105 pairs. refusal-minilm's similarity threshold was tuned on this set (DEV): "
    "its figures here flatter it; pyrit-refusal-extra is held out.",
    attributes={"measures": Measured.COMPLIANCE},
)
PYRIT_REFUSAL_EXTRA = BuiltinDataset(
    kind=VALIDATION_SETS,
    name="pyrit-refusal-extra",
    version="1",
    filename="validation/refusal_extra.csv",
    format="pyrit-refusal-csv",
    description=f"{_PYRIT} 64 pairs, held out: no threshold was tuned on them.",
    attributes={"measures": Measured.COMPLIANCE},
)

# Stored at start-up, in this order.
BUILTIN_DATASETS: tuple[BuiltinDataset[Any], ...] = (
    HARMFUL_DEMO,
    BENIGN_DEMO,
    HARMFUL_DEMO_B,
    BENIGN_DOLLY,
    CAPABILITY_DEMO,
    OVER_REFUSAL_DEMO,
    XSTEST,
    XSTEST_CONTRAST,
    PYRIT_REFUSAL,
    PYRIT_REFUSAL_EXTRA,
)
