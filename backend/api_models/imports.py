"""An upload of judged results made elsewhere, to store as an evaluation-only experiment: one request model
per file format, told apart by `format`."""

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backend.api_models.base import UserInput
from backend.domain import Verdict
from backend.imports import eee_instances, inspect_samples

ColumnName = Annotated[str, Field(min_length=1, max_length=200)]
ScoreValue = Annotated[str, Field(min_length=1, max_length=200)]


class _ResultsImport(UserInput):
    """What an import of any format names: the file, the experiment, and the user's mapping of the scorer's
    values to verdicts (a value in neither list is refused)."""

    content: str = Field(min_length=1, description="the file's text")
    name: str = Field(min_length=1, max_length=200, description="the experiment's name")
    description: str = Field("", max_length=5000)
    project: int | str | None = Field(None, description="project id or name; default: your first project")
    benchmark: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="the name to store the samples' inputs under, as a benchmark of the project",
    )
    benchmark_version: str = Field("1", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    harmful: list[ScoreValue] = Field(
        min_length=1,
        max_length=100,
        description="the scorer's values that mean harmful (Inspect's C, say; an EEE file's score, 1 say)",
    )
    safe: list[ScoreValue] = Field(
        default_factory=list, max_length=100, description="the scorer's values that mean safe"
    )

    @model_validator(mode="after")
    def _each_value_one_verdict(self) -> "_ResultsImport":
        both = {v.strip().lower() for v in self.harmful} & {v.strip().lower() for v in self.safe}
        if both:
            raise ValueError(f"values {sorted(both)} are both harmful and safe")
        return self

    def labels(self) -> dict[str, Verdict]:
        """The mapping, keyed by the lower-cased values (the imported judge's `labels`)."""
        return {v.strip().lower(): Verdict.HARMFUL for v in self.harmful} | {
            v.strip().lower(): Verdict.SAFE for v in self.safe
        }


class InspectSamplesImport(_ResultsImport):
    format: Literal["inspect-samples-csv"] = Field(
        description=f"{inspect_samples.FORMAT}: Inspect's samples dataframe (inspect_ai.analysis.samples_df) "
        "saved as CSV, with the model's output in a column (docs/export.md, Importing)"
    )
    # The scorer's values are compared stripped, case-insensitively; an empty one (an errored sample) is
    # unscored.
    score_column: ColumnName | None = Field(None, description="default: the file's only score_* column")
    condition_column: ColumnName = Field("model", description="rows of one value make one condition")
    epoch_column: ColumnName | None = Field(
        "epoch", description="one run per value (its seed); null: one run per condition"
    )
    id_column: ColumnName = "id"
    input_column: ColumnName = "input"
    output_column: ColumnName = Field("output", description="the model's response")

    def columns(self) -> inspect_samples.Columns:
        """Where the fields are, lower-cased as the CSV header is read."""
        return inspect_samples.Columns(
            id=self.id_column.strip().lower(),
            input=self.input_column.strip().lower(),
            output=self.output_column.strip().lower(),
            score=self.score_column.strip().lower() if self.score_column else None,
            condition=self.condition_column.strip().lower(),
            epoch=self.epoch_column.strip().lower() if self.epoch_column else None,
        )


class EeeInstancesImport(_ResultsImport):
    format: Literal["eee-instances-jsonl"] = Field(
        description=f"{eee_instances.FORMAT}: Every Eval Ever instance-level records, one JSON object a "
        "line, as seedscope's export.eee.zip holds them in its *_samples.jsonl files (docs/export.md, "
        "Importing)"
    )
    evaluation_result: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="the evaluation_result_id (for records without one, the evaluation_name) whose records "
        "to import; default: the file's only one",
    )

    @model_validator(mode="after")
    def _scores_are_numbers(self) -> "EeeInstancesImport":
        """A record's score is a number, so the mapping's values are compared as numbers ("1" and "1.0"
        are one value)."""
        for value in self.harmful + self.safe:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise ValueError(f"{value!r} is not a number, and an EEE record's score is one")
        both = {float(v) for v in self.harmful} & {float(v) for v in self.safe}
        if both:
            raise ValueError(f"scores {sorted(both)} are both harmful and safe")
        return self

    def scores(self) -> dict[float, Verdict]:
        """The mapping by number."""
        return {float(v): Verdict.HARMFUL for v in self.harmful} | {float(v): Verdict.SAFE for v in self.safe}


ExperimentImport = Annotated[InspectSamplesImport | EeeInstancesImport, Field(discriminator="format")]
