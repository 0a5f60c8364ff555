"""Reading benign fine-tuning sets: JSONL with one {"prompt", "response"} object per line."""

from backend.catalog.files import DatasetFormatError, read_jsonl
from backend.catalog.formats import Formats
from backend.catalog.records import ExampleRecord

# How the parser's messages name the format: a training set's JSONL, not a benchmark's.
FORMAT = "training-jsonl"


def parse_training_jsonl(text: str) -> list[ExampleRecord]:
    """Examples from JSONL (other keys are ignored); raises DatasetFormatError on any problem."""
    examples = []
    for where, item in read_jsonl(FORMAT, text):
        prompt, response = item.get("prompt"), item.get("response")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetFormatError(FORMAT, "missing or empty 'prompt'", where)
        if not isinstance(response, str) or not response.strip():
            raise DatasetFormatError(FORMAT, "missing or empty 'response'", where)
        examples.append(ExampleRecord(prompt=prompt.strip(), response=response.strip()))
    if not examples:
        raise DatasetFormatError(FORMAT, "no examples in the file")
    return examples


TRAINING_SET_FORMATS: Formats[ExampleRecord] = Formats(fixed={"jsonl": parse_training_jsonl}, default="jsonl")
