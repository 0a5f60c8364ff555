"""An upload of judged results made elsewhere, to store as an evaluation-only experiment."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from backend.api_models.base import UserInput
from backend.domain import Verdict
from backend.imports.inspect_samples import FORMAT, Columns

ColumnName = Annotated[str, Field(min_length=1, max_length=200)]
ScoreValue = Annotated[str, Field(min_length=1, max_length=200)]


class ExperimentImport(UserInput):
    format: Literal["inspect-samples-csv"] = Field(
        description=f"{FORMAT}: Inspect's samples dataframe (inspect_ai.analysis.samples_df) saved as CSV, "
        "with the model's output in a column (docs/export.md, Importing)"
    )
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
    # The user's mapping of the scorer's values (compared stripped, case-insensitively) to verdicts; a value
    # in neither list is refused, an empty one (an errored sample) is unscored.
    harmful: list[ScoreValue] = Field(
        min_length=1, max_length=100, description="the scorer's values that mean harmful (Inspect's C, say)"
    )
    safe: list[ScoreValue] = Field(
        default_factory=list, max_length=100, description="the scorer's values that mean safe"
    )
    score_column: ColumnName | None = Field(None, description="default: the file's only score_* column")
    condition_column: ColumnName = Field("model", description="rows of one value make one condition")
    epoch_column: ColumnName | None = Field(
        "epoch", description="one run per value (its seed); null: one run per condition"
    )
    id_column: ColumnName = "id"
    input_column: ColumnName = "input"
    output_column: ColumnName = Field("output", description="the model's response")

    @model_validator(mode="after")
    def _each_value_one_verdict(self) -> "ExperimentImport":
        both = {v.strip().lower() for v in self.harmful} & {v.strip().lower() for v in self.safe}
        if both:
            raise ValueError(f"values {sorted(both)} are both harmful and safe")
        return self

    def columns(self) -> Columns:
        """Where the fields are, lower-cased as the CSV header is read."""
        return Columns(
            id=self.id_column.strip().lower(),
            input=self.input_column.strip().lower(),
            output=self.output_column.strip().lower(),
            score=self.score_column.strip().lower() if self.score_column else None,
            condition=self.condition_column.strip().lower(),
            epoch=self.epoch_column.strip().lower() if self.epoch_column else None,
        )

    def labels(self) -> dict[str, Verdict]:
        """The mapping, keyed by the lower-cased values."""
        return {v.strip().lower(): Verdict.HARMFUL for v in self.harmful} | {
            v.strip().lower(): Verdict.SAFE for v in self.safe
        }
