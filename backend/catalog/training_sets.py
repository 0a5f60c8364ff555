"""Reading benign fine-tuning sets into (prompt, response) examples, in the formats such sets are shared in.

- `jsonl` (the default): one {"prompt", "response"} object per line, or the keys the upload names.
- `alpaca`: Stanford Alpaca's JSON array (or JSONL) of {"instruction", "input", "output"} objects.
- `dolly`: Databricks Dolly's JSONL of {"instruction", "context", "response", "category"} objects.
- `messages`: OpenAI-style chat JSONL, {"messages": [{"role": ..., "content": ...}, ...]} per line.

The worker trains on one user turn and the assistant's answer, rendered with the model's own chat template
(worker/chat.py), just as a benchmark's prompts are asked. So a prompt is one text: Alpaca's input and
Dolly's context follow the instruction after a blank line (Alpaca's own layout of the two), and a chat's
system message comes before the user's text after a blank line (as chat templates without a system role,
Gemma 3's, place it). A conversation with earlier exchanges is refused rather than flattened into one user
turn: the model would learn from a transcript quoted inside a message, which is neither the conversation
nor what an evaluation asks. Other keys (Dolly's category, OpenAI's weight) are ignored.
"""

from collections.abc import Callable, Iterable
from typing import Any

from backend.catalog.files import DatasetFormatError, read_json_array, read_jsonl, string_field
from backend.catalog.formats import FieldNames, Formats
from backend.catalog.records import ExampleRecord

# How the jsonl parser's messages name the format: a training set's JSONL, not a benchmark's.
FORMAT = "training-jsonl"
# Between the parts of a prompt: an instruction and its input, a system message and the user's text.
PART_SEPARATOR = "\n\n"
# The keys that tell each fixed format's lines apart, for a hint when a jsonl line has no prompt.
_FORMAT_KEYS = {
    "alpaca": {"instruction", "output"},
    "dolly": {"instruction", "response"},
    "messages": {"messages"},
}
_ROLES = ("system", "user", "assistant")
# The turns a chat may hold before the assistant's answer: one exchange, with or without a system message.
_EXCHANGES = (["user"], ["system", "user"])

# (where, object) for each object of a file, as the readers give them.
Objects = Iterable[tuple[str, dict[str, Any]]]


def required_text(format: str, where: str, obj: dict[str, Any], key: str) -> str:
    """obj[key] stripped: a string that is there and not blank."""
    if obj.get(key) is None:
        raise DatasetFormatError(format, f"missing {key!r}", where)
    text = string_field(format, where, obj, key).strip()
    if not text:
        raise DatasetFormatError(format, f"empty {key!r}", where)
    return text


def _prompt(*parts: str) -> str:
    return PART_SEPARATOR.join(part for part in parts if part)


def _examples(
    format: str, objects: Objects, example: Callable[[str, dict[str, Any]], ExampleRecord]
) -> list[ExampleRecord]:
    """One example per object of the file, at least one."""
    examples = [example(where, obj) for where, obj in objects]
    if not examples:
        raise DatasetFormatError(format, "no examples in the file")
    return examples


def parse_training_jsonl(text: str, names: FieldNames | None = None) -> list[ExampleRecord]:
    """{"prompt", "response"} per line, or the keys `names` gives; raises DatasetFormatError on any
    problem."""
    names = names or FieldNames()
    prompt_key, response_key = names.prompt or "prompt", names.response or "response"

    def example(where: str, obj: dict[str, Any]) -> ExampleRecord:
        if prompt_key not in obj and not names.given:
            hint = next((f for f, keys in _FORMAT_KEYS.items() if keys <= obj.keys()), None)
            if hint:
                problem = f"missing 'prompt'; the line has the {hint} format's keys: name format {hint!r}"
                raise DatasetFormatError(FORMAT, problem, where)
        return ExampleRecord(
            prompt=required_text(FORMAT, where, obj, prompt_key),
            response=required_text(FORMAT, where, obj, response_key),
        )

    return _examples(FORMAT, read_jsonl(FORMAT, text), example)


def _instruction_example(
    format: str, extra: str, response: str
) -> Callable[[str, dict[str, Any]], ExampleRecord]:
    """An instruction-tuning object's example: the instruction, then its `extra` text (Alpaca's input,
    Dolly's context) when not blank, and the `response` key's text."""

    def example(where: str, obj: dict[str, Any]) -> ExampleRecord:
        return ExampleRecord(
            prompt=_prompt(
                required_text(format, where, obj, "instruction"),
                string_field(format, where, obj, extra).strip(),
            ),
            response=required_text(format, where, obj, response),
        )

    return example


def _parse_alpaca(text: str) -> list[ExampleRecord]:
    """A JSON array (as alpaca_data.json is) or JSONL; the input, when not blank, follows the
    instruction."""
    read = read_json_array if text.lstrip("\ufeff \t\r\n").startswith("[") else read_jsonl
    return _examples("alpaca", read("alpaca", text), _instruction_example("alpaca", "input", "output"))


def _parse_dolly(text: str) -> list[ExampleRecord]:
    """Dolly's JSONL; the context, when not blank, follows the instruction."""
    return _examples("dolly", read_jsonl("dolly", text), _instruction_example("dolly", "context", "response"))


def _parse_messages(text: str) -> list[ExampleRecord]:
    """Chat JSONL: an optional system message, one user turn, and the assistant's answer as the response."""
    format = "messages"

    def turn(where: str, message: object) -> tuple[str, str]:
        if not isinstance(message, dict):
            raise DatasetFormatError(format, f"expected a JSON object, got {type(message).__name__}", where)
        role = required_text(format, where, message, "role")
        if role not in _ROLES:
            raise DatasetFormatError(format, f"role {role!r} is none of {', '.join(_ROLES)}", where)
        return role, required_text(format, where, message, "content")

    def example(where: str, obj: dict[str, Any]) -> ExampleRecord:
        messages = obj.get("messages")
        if not isinstance(messages, list):
            got = "no 'messages'" if messages is None else f"'messages' is a {type(messages).__name__}"
            raise DatasetFormatError(format, f"expected a 'messages' list, got {got}", where)
        if not messages:
            raise DatasetFormatError(format, "empty 'messages'", where)
        turns = [turn(f"{where}, message {n}", message) for n, message in enumerate(messages, start=1)]
        roles = [role for role, _ in turns]
        if "assistant" not in roles:
            raise DatasetFormatError(format, "no assistant turn", where)
        if roles[-1] != "assistant":
            problem = f"the last message is a {roles[-1]} turn, not the assistant's"
            raise DatasetFormatError(format, problem, where)
        if roles[:-1] not in _EXCHANGES:
            raise DatasetFormatError(
                format,
                f"roles {roles}: one exchange is read (an optional system message, a user turn, the "
                "assistant's answer); a conversation with earlier turns is not",
                where,
            )
        return ExampleRecord(prompt=_prompt(*(content for _, content in turns[:-1])), response=turns[-1][1])

    return _examples(format, read_jsonl(format, text), example)


TRAINING_SET_FORMATS: Formats[ExampleRecord] = Formats(
    fixed={"alpaca": _parse_alpaca, "dolly": _parse_dolly, "messages": _parse_messages},
    named={"jsonl": parse_training_jsonl},
    default="jsonl",
)
