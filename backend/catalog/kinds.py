"""The kinds of dataset: benchmarks (prompts), training sets (prompt/response examples) and validation sets
(human-labelled request/response pairs), each declared once here.

A declaration says where a kind is stored (its table of datasets, and the relationship to its table of
items, whose columns are the fields of the kind's record), which file formats it is read in, how messages
name its items and which settings bound their texts, and its read model with what that adds to the columns
every dataset has: the number of items, tallies of some of them, their categories, columns of its own. One
implementation serves every kind: finding, listing and storing (backend.repositories.catalog), importing an
upload and storing the built-ins (backend.services.catalog). A new kind is a declaration and a parser.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, String
from sqlalchemy.orm import InstrumentedAttribute

from backend.api_models.catalog import BenchmarkRead, DatasetRead, TrainingSetRead, ValidationSetRead
from backend.catalog.adapters import BENCHMARK_FORMATS
from backend.catalog.evaluation_sets import check_evaluation_set
from backend.catalog.formats import Formats
from backend.catalog.training_sets import TRAINING_SET_FORMATS
from backend.catalog.validation_sets import VALIDATION_SET_FORMATS
from backend.config import Settings
from backend.domain import SetMeasure, Verdict
from backend.errors import InvalidInput
from backend.limits import enforce
from backend.models import Benchmark, Dataset, TrainingSet, ValidationExample, ValidationSet

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
Read = TypeVar("Read", bound=DatasetRead)

# A record's fields as messages name them, where the field's name is not the word a user knows.
_FIELD_WORDS = {"external_id": "id"}


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class DatasetKind(Generic[R, Read]):
    """One kind of dataset, read from files into records of type R and shown as Read."""

    name: str  # how messages name one dataset: "benchmark"
    model: type[Dataset]
    # The relationship to the items (Benchmark.prompts), whose table has a column per field of the record.
    items: InstrumentedAttribute[Any]
    formats: Formats[R]
    item: str  # how messages name one item: "prompt" ("prompt 3")
    items_noun: str  # and the items of a file: "prompts"
    # The record's texts that a setting (Settings.max_*) bounds in length.
    bounds: Mapping[str, str]
    read_model: type[Read]
    count: str  # the read model's field for the number of items
    # Read model fields that count the items meeting a condition.
    tallies: Mapping[str, ColumnElement[bool]] = field(default_factory=dict)
    # Whether the read model lists its items' categories (the item table has a `category` column).
    categories: bool = False
    # Columns this kind's dataset rows add, set by the upload, each with how a conflict names its value.
    attributes: Mapping[str, str] = field(default_factory=dict)
    # Their values where an upload (or a built-in) gives none.
    attribute_defaults: Mapping[str, str] = field(default_factory=dict)
    # What the items must be for the attributes' values (a capability set's references); raises
    # InvalidInput naming the first item that is not.
    check_for_attributes: Callable[[Sequence[Any], Mapping[str, str]], None] | None = None
    # Columns this kind's rows add that record how a dataset was made (a derived training set's
    # derivation): shown, stored with a new row, never compared.
    recorded: Sequence[str] = ()
    # The record's field that messages name an item by besides its position (a benchmark's ids are its
    # authors': HarmBench's BehaviorID); None: the position alone.
    named_by: str | None = None

    @property
    def item_model(self) -> Any:
        return self.items.property.mapper.class_

    def _where(self, position: int, record: R) -> str:
        """An item in messages: "pair 3", or "prompt 3 (id 'hb-17')"."""
        if self.named_by is None:
            return f"{self.item} {position}"
        word = _FIELD_WORDS.get(self.named_by, self.named_by)
        return f"{self.item} {position} ({word} {_short(getattr(record, self.named_by))})"

    def check(self, records: Sequence[R], settings: Settings) -> None:
        """Every item storable as it is: no NUL character in a text (PostgreSQL cannot store one), each text
        within its column's width and within the setting that bounds it."""
        if not records:
            return
        columns = self.item_model.__table__.columns
        texts = [f.name for f in fields(records[0]) if isinstance(columns[f.name].type, String)]
        widths = {name: columns[name].type.length for name in texts}
        for position, record in enumerate(records, start=1):
            where = self._where(position, record)
            for name in texts:
                value, word = getattr(record, name), _FIELD_WORDS.get(name, name)
                if "\x00" in value:
                    raise InvalidInput(
                        f"{where}: the {word} contains a NUL character, which cannot be stored"
                    )
                if widths[name] is not None and len(value) > widths[name]:
                    raise InvalidInput(
                        f"{where}: the {word} is {len(value):,} characters; at most {widths[name]} fit"
                    )
                if name in self.bounds:
                    # An item with one bounded text is that text: "prompt 3", not "prompt 3's text".
                    subject = where if len(self.bounds) == 1 else f"{where}'s {word}"
                    enforce(settings, self.bounds[name], len(value), f"the length of {subject} in characters")


BENCHMARKS = DatasetKind(
    name="benchmark",
    model=Benchmark,
    items=Benchmark.prompts,
    formats=BENCHMARK_FORMATS,
    item="prompt",
    items_noun="prompts",
    bounds={"text": "max_prompt_chars"},
    named_by="external_id",
    read_model=BenchmarkRead,
    count="n_prompts",
    categories=True,
    # What it measures (harm, capability, over_refusal) and a capability set's scoring rule.
    attributes={"measures": "a measure of", "scoring": "the scoring rule"},
    attribute_defaults={"measures": SetMeasure.HARM, "scoring": ""},
    check_for_attributes=check_evaluation_set,
)

TRAINING_SETS = DatasetKind(
    name="training set",
    model=TrainingSet,
    items=TrainingSet.examples,
    formats=TRAINING_SET_FORMATS,
    item="example",
    items_noun="examples",
    bounds={"prompt": "max_example_chars", "response": "max_example_chars"},
    read_model=TrainingSetRead,
    count="n_examples",
    recorded=("derivation",),
)

VALIDATION_SETS = DatasetKind(
    name="validation set",
    model=ValidationSet,
    items=ValidationSet.examples,
    formats=VALIDATION_SET_FORMATS,
    item="pair",
    items_noun="labelled pairs",
    bounds={"request": "max_example_chars", "response": "max_example_chars"},
    read_model=ValidationSetRead,
    count="n_examples",
    tallies={"n_harmful": ValidationExample.label == Verdict.HARMFUL},
    categories=True,
    # What its label "harmful" means: "harm" or "compliance".
    attributes={"measures": "labels of"},
)
