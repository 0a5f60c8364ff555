"""Reading benign fine-tuning sets: JSONL with one {"prompt", "response"} object per line."""

import json

from backend.catalog.records import ExampleRecord
from backend.parsing import DocumentTooComplex, load_json


class TrainingSetFormatError(ValueError):
    pass


def parse_training_jsonl(text: str) -> list[ExampleRecord]:
    examples = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = load_json(line)
        except json.JSONDecodeError as error:
            raise TrainingSetFormatError(
                f"training set line {line_number}: invalid JSON ({error.msg})"
            ) from None
        except DocumentTooComplex as error:
            raise TrainingSetFormatError(f"training set line {line_number}: {error}") from None
        if not isinstance(item, dict):
            raise TrainingSetFormatError(f"training set line {line_number}: expected an object")
        prompt, response = item.get("prompt"), item.get("response")
        if not isinstance(prompt, str) or not prompt.strip():
            raise TrainingSetFormatError(f"training set line {line_number}: missing or empty 'prompt'")
        if not isinstance(response, str) or not response.strip():
            raise TrainingSetFormatError(f"training set line {line_number}: missing or empty 'response'")
        examples.append(ExampleRecord(prompt=prompt.strip(), response=response.strip()))
    if not examples:
        raise TrainingSetFormatError("training set has no examples")
    return examples
