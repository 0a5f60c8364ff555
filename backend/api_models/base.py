"""What every read model shares, a page of items, and what every request body a user writes shares."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

Item = TypeVar("Item")


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(ReadModel, Generic[Item]):
    items: list[Item]
    total: int
    page: int
    page_size: int


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, list) and any(_has_nul(item) for item in value)


class UserInput(BaseModel):
    """What every request body a user writes shares: values a database can store and a worker can use.

    No NUL characters in any text (PostgreSQL cannot store them), no infinite or NaN numbers.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value
