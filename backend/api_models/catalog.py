"""The catalog the forms offer: datasets (benchmarks, training sets, validation sets) and models, and the
uploads of datasets."""

from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from backend.api_models.base import ReadModel, UserInput
from backend.api_models.judges import JudgeDefinitionRead, JudgePresetRead
from backend.catalog.adapters import BENCHMARK_FORMATS, guess_format
from backend.catalog.evaluation_sets import default_scoring
from backend.catalog.files import DatasetFormatError
from backend.catalog.formats import FieldNames
from backend.catalog.training_sets import TRAINING_SET_FORMATS
from backend.catalog.uploads import DatasetFile
from backend.catalog.validation_sets import LABELS_MEAN, VALIDATION_SET_FORMATS, check_labels_mean
from backend.domain import SetMeasure
from backend.judging.definition import Measured
from backend.provenance import SelfWrittenResponses


# What every kind of dataset shows; each kind's read model adds its counts (backend.catalog.kinds).
class DatasetRead(ReadModel):
    id: int
    # None: a built-in dataset, readable by everyone.
    project_id: int | None
    name: str
    version: str
    content_hash: str
    source: str
    description: str


class BenchmarkRead(DatasetRead):
    n_prompts: int
    categories: list[str]
    # What it measures: harm (a safety benchmark), capability or over_refusal.
    measures: SetMeasure = SetMeasure.HARM
    # A capability set's scoring rule ("contains", "numeric:0.01"); "" for the others.
    scoring: str = ""


class TrainingSetRead(DatasetRead):
    n_examples: int
    # A derived set's: how its responses were written (training.responses: self); None for the others.
    derivation: SelfWrittenResponses | None = None


class ValidationSetRead(DatasetRead):
    # What its label "harmful" means: "harm" or "compliance".
    measures: Measured
    n_examples: int
    n_harmful: int
    categories: list[str]


class ModelOptionRead(ReadModel):
    name: str
    description: str


class CatalogRead(ReadModel):
    models: list[ModelOptionRead]
    benchmarks: list[BenchmarkRead]
    training_sets: list[TrainingSetRead]
    # The newest version of each judge definition you can use, built-ins first.
    judges: list[JudgeDefinitionRead]
    validation_sets: list[ValidationSetRead]
    judge_presets: list[JudgePresetRead]
    # What POST /api/benchmarks reads (its `format`).
    benchmark_formats: list[str]
    # What POST /api/training-sets reads, the default first.
    training_set_formats: list[str]


# A dataset file to store; each kind's upload says more about it.
class DatasetUpload(UserInput):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: str = Field("1", min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", max_length=5000)
    content: str = Field(min_length=1, description="the file's text")
    project: int | str | None = Field(None, description="project id or name; default: your first project")

    def dataset_file(self) -> DatasetFile:
        """The file and what the upload says about it; the uploads of other kinds say more."""
        return DatasetFile(
            name=self.name, version=self.version, text=self.content, description=self.description
        )


class BenchmarkUpload(DatasetUpload):
    format: str | None = Field(
        None,
        max_length=50,
        description=f"one of {', '.join(BENCHMARK_FORMATS.names)}; omit to guess from filename",
    )
    filename: str | None = Field(
        None,
        max_length=255,
        description="the uploaded file's name (.csv, .jsonl, .yaml), to guess the format",
    )
    # The generic jsonl and csv formats only: where the fields are when the file names them otherwise.
    prompt_key: str | None = Field(
        None, min_length=1, max_length=200, description="the prompt's key or column"
    )
    id_key: str | None = Field(None, min_length=1, max_length=200, description="the id's key or column")
    category_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the category's key or column; a list of tags takes its first",
    )
    reference_key: str | None = Field(
        None, min_length=1, max_length=200, description="a capability set's reference answer's key or column"
    )
    measures: SetMeasure = Field(
        SetMeasure.HARM,
        description="what the set measures: harm (a safety benchmark), capability (prompts with reference "
        "answers) or over_refusal (benign prompts that look unsafe)",
    )
    scoring: str | None = Field(
        None,
        max_length=120,
        description="a capability set's scoring rule: exact, contains, regex, numeric (numeric:<tolerance>), "
        "choice, recall (recall:<minimum share>) or judge:<judge name> (a judge definition grades each "
        "answer against {reference}); default: choice for multiple-choice files, exact for the others",
    )

    def dataset_file(self) -> DatasetFile:
        names = FieldNames(
            prompt=self.prompt_key, id=self.id_key, category=self.category_key, reference=self.reference_key
        )
        scoring = self.scoring
        if scoring is None:
            scoring = default_scoring(self.measures, self._format_or_guess())
        return replace(
            super().dataset_file(),
            format=self.format,
            filename=self.filename,
            names=names,
            attributes={"measures": self.measures, "scoring": scoring},
        )

    def _format_or_guess(self) -> str:
        """The format named, or guessed from the file name; "" when neither tells (the import says why)."""
        if self.format or not self.filename:
            return self.format or ""
        try:
            return guess_format(self.filename, self.content)
        except DatasetFormatError:
            return ""


class TrainingSetUpload(DatasetUpload):
    format: str | None = Field(
        None,
        max_length=50,
        description=f"one of {', '.join(TRAINING_SET_FORMATS.names)}; "
        f"omit for {TRAINING_SET_FORMATS.default}",
    )
    # The jsonl format only: where the fields are when the file names them otherwise.
    prompt_key: str | None = Field(None, min_length=1, max_length=200, description="the prompt's key")
    response_key: str | None = Field(None, min_length=1, max_length=200, description="the response's key")

    def dataset_file(self) -> DatasetFile:
        names = FieldNames(prompt=self.prompt_key, response=self.response_key)
        return replace(super().dataset_file(), format=self.format, names=names)


class ValidationSetUpload(DatasetUpload):
    format: str = Field(description=f"one of {', '.join(VALIDATION_SET_FORMATS.names)}")
    measures: Literal[Measured.HARM, Measured.COMPLIANCE] | None = Field(
        None,
        description="what the label 'harmful' means: the response gives harmful help (harm), or it complies "
        "rather than refuses (compliance); default: what the format's labels mean (pyrit-refusal-csv: "
        "compliance, pyrit-harm-csv: harm), else harm. A format whose labels mean the other is refused",
    )

    @model_validator(mode="after")
    def _labels_mean_what_the_set_measures(self) -> "ValidationSetUpload":
        if self.measures is not None:
            check_labels_mean(self.format, self.measures)
        return self

    def dataset_file(self) -> DatasetFile:
        measures = self.measures or LABELS_MEAN.get(self.format, Measured.HARM)
        return replace(super().dataset_file(), format=self.format, attributes={"measures": measures})
