"""Definitions submitted as YAML documents (experiments, judges), validated by their pydantic model."""

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from backend.errors import InvalidInput
from backend.parsing import DocumentRefused, load_yaml

Model = TypeVar("Model", bound=BaseModel)


def describe(error: ValidationError, what: str) -> str:
    """The validator's complaints, one per field, in a line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or what}: {e['msg']}" for e in error.errors()
    )


def parse_yaml(text: str, model: type[Model], what: str, expected: str) -> Model:
    """A `model` from YAML text, with the parser's or the validator's message on failure."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"malformed YAML: {error}") from None
    except DocumentRefused as error:
        raise InvalidInput(f"YAML document {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"the YAML document must be a mapping with {expected}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(describe(error, what)) from None
