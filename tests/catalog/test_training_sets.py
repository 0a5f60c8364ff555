"""Training sets in the formats people have them: JSONL with named keys, Alpaca, Dolly, chat messages."""

import json

import pytest

from backend.catalog.files import DatasetFormatError
from backend.catalog.formats import FieldNames
from backend.catalog.records import ExampleRecord
from backend.catalog.training_sets import TRAINING_SET_FORMATS, parse_training_jsonl


def jsonl(*rows: object) -> str:
    return "\n".join(json.dumps(row) for row in rows) + "\n"


def parse(text: str, format: str, names: FieldNames | None = None) -> list[ExampleRecord]:
    return TRAINING_SET_FORMATS.parse(text, format, names)


def test_jsonl_is_the_default_and_listed_first() -> None:
    assert TRAINING_SET_FORMATS.default == "jsonl"
    assert TRAINING_SET_FORMATS.names == ("jsonl", "alpaca", "dolly", "messages")
    assert parse(jsonl({"prompt": " 2+2? ", "response": "4", "other": 1}), "jsonl") == [
        ExampleRecord("2+2?", "4")
    ]


def test_jsonl_with_named_keys() -> None:
    text = jsonl({"question": "Capital of France?", "answer": "Paris"}, {"question": "1+1?", "answer": "2"})
    assert parse(text, "jsonl", FieldNames(prompt="question", response="answer")) == [
        ExampleRecord("Capital of France?", "Paris"),
        ExampleRecord("1+1?", "2"),
    ]
    # One key named, the other keeps its usual name.
    assert parse(jsonl({"q": "a", "response": "b"}), "jsonl", FieldNames(prompt="q")) == [
        ExampleRecord("a", "b")
    ]
    with pytest.raises(DatasetFormatError, match=r"^training-jsonl: line 2: missing 'answer'$"):
        parse(
            jsonl({"q": "a", "answer": "b"}, {"q": "c"}), "jsonl", FieldNames(prompt="q", response="answer")
        )


def test_only_jsonl_takes_key_names() -> None:
    with pytest.raises(
        DatasetFormatError, match=r"^alpaca: keys or columns can be named for the jsonl format only$"
    ):
        parse(jsonl({"instruction": "a", "output": "b"}), "alpaca", FieldNames(prompt="q"))


def test_a_jsonl_line_in_another_formats_layout_names_that_format() -> None:
    for row, format in [
        ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
        ({"instruction": "a", "context": "", "response": "b", "category": "open_qa"}, "dolly"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, "messages"),
    ]:
        with pytest.raises(DatasetFormatError, match=f"line 1: missing 'prompt'; .* name format '{format}'$"):
            parse_training_jsonl(jsonl(row))
        # Read in that format, the same line is an example.
        assert parse(jsonl(row), format) == [ExampleRecord("a", "b")]


ALPACA_ROWS = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, sleep, move."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
    {"instruction": "Name a colour.", "output": "Blue"},  # no input at all
]
ALPACA_RECORDS = [
    ExampleRecord("Give three tips for staying healthy.", "Eat well, sleep, move."),
    ExampleRecord("Translate to French.\n\nGood morning", "Bonjour"),
    ExampleRecord("Name a colour.", "Blue"),
]


def test_alpaca_as_a_json_array_or_jsonl_input_after_the_instruction() -> None:
    # alpaca_data.json: an indented array, here with a byte-order mark and Windows line ends.
    array = "\ufeff" + json.dumps(ALPACA_ROWS, indent=4).replace("\n", "\r\n")
    assert parse(array, "alpaca") == ALPACA_RECORDS
    assert parse(jsonl(*ALPACA_ROWS), "alpaca") == ALPACA_RECORDS


def test_dolly_context_after_the_instruction_category_ignored() -> None:
    text = jsonl(
        {
            "instruction": "When was it built?",
            "context": "The tower was built in 1889.",
            "response": "1889",
            "category": "closed_qa",
        },
        {
            "instruction": "Suggest a name for a cat.",
            "context": "",
            "response": "Tom",
            "category": "brainstorming",
        },
        {"instruction": "Say hi.", "response": "Hi"},
    )
    assert parse(text, "dolly") == [
        ExampleRecord("When was it built?\n\nThe tower was built in 1889.", "1889"),
        ExampleRecord("Suggest a name for a cat.", "Tom"),
        ExampleRecord("Say hi.", "Hi"),
    ]


def test_messages_the_last_assistant_turn_is_the_response() -> None:
    text = jsonl(
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
        {
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Capital of Italy?"},
                {"role": "assistant", "content": "Rome", "weight": 1},
            ]
        },
    )
    assert parse(text, "messages") == [
        ExampleRecord("2+2?", "4"),
        ExampleRecord("Answer briefly.\n\nCapital of Italy?", "Rome"),
    ]


GOOD = {
    "jsonl": {"prompt": "p", "response": "r"},
    "alpaca": {"instruction": "i", "input": "x", "output": "o"},
    "dolly": {"instruction": "i", "context": "c", "response": "r"},
    "messages": {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
}
USER, ANSWER = {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}
# A bad third line in each format, and what its message says after "<format>: line 3".
BAD_LINES = [
    ("jsonl", {"response": "r"}, ": missing 'prompt'"),
    ("jsonl", {"prompt": " ", "response": "r"}, ": empty 'prompt'"),
    ("jsonl", {"prompt": "p", "response": None}, ": missing 'response'"),
    ("jsonl", {"prompt": ["p"], "response": "r"}, ": 'prompt' must be a string, got list"),
    ("alpaca", {"input": "x", "output": "o"}, ": missing 'instruction'"),
    ("alpaca", {"instruction": "i", "input": "x"}, ": missing 'output'"),
    ("alpaca", {"instruction": "i", "output": ""}, ": empty 'output'"),
    ("alpaca", {"instruction": "i", "input": 3, "output": "o"}, ": 'input' must be a string, got int"),
    ("dolly", {"context": "c", "response": "r"}, ": missing 'instruction'"),
    ("dolly", {"instruction": "i", "context": "c"}, ": missing 'response'"),
    (
        "dolly",
        {"instruction": "i", "context": {"a": 1}, "response": "r"},
        ": 'context' must be a string, got dict",
    ),
    ("messages", {"conversation": []}, ": expected a 'messages' list, got no 'messages'"),
    ("messages", {"messages": "hi"}, ": expected a 'messages' list, got 'messages' is a str"),
    ("messages", {"messages": []}, ": empty 'messages'"),
    ("messages", {"messages": [USER, "a"]}, ", message 2: expected a JSON object, got str"),
    ("messages", {"messages": [USER, {"content": "a"}]}, ", message 2: missing 'role'"),
    (
        "messages",
        {"messages": [{"role": "tool", "content": "x"}, ANSWER]},
        ", message 1: role 'tool' is none of",
    ),
    ("messages", {"messages": [USER, {"role": "assistant", "content": " "}]}, ", message 2: empty 'content'"),
    (
        "messages",
        {"messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]},
        ", message 2: 'content' must be a string, got list",
    ),
    ("messages", {"messages": [{"role": "system", "content": "s"}, USER]}, ": no assistant turn"),
    (
        "messages",
        {"messages": [USER, ANSWER, USER]},
        ": the last message is a user turn, not the assistant's",
    ),
    ("messages", {"messages": [ANSWER]}, r": roles \['assistant'\]: one exchange is read"),
    (
        "messages",
        {"messages": [USER, ANSWER, USER, ANSWER]},
        r": roles \['user', 'assistant', .*earlier turns",
    ),
    ("messages", {"messages": [USER, USER, ANSWER]}, r": roles \['user', 'user', 'assistant'\]"),
]


@pytest.mark.parametrize(("format", "row", "problem"), BAD_LINES)
def test_every_bad_line_is_named(format: str, row: dict[str, object], problem: str) -> None:
    named = "training-jsonl" if format == "jsonl" else format
    with pytest.raises(DatasetFormatError, match=f"^{named}: line 3{problem}"):
        parse(jsonl(GOOD[format], GOOD[format], row), format)


def test_bad_alpaca_array_items_and_json_are_named() -> None:
    with pytest.raises(DatasetFormatError, match=r"^alpaca: item 2: missing 'output'$"):
        parse(json.dumps([ALPACA_ROWS[0], {"instruction": "i"}]), "alpaca")
    with pytest.raises(DatasetFormatError, match=r"^alpaca: item 1: expected a JSON object, got list$"):
        parse("[[]]", "alpaca")
    with pytest.raises(DatasetFormatError, match=r"^alpaca: line 3: invalid JSON \("):
        parse('[\n  {"instruction": "i", "output": "o"},\n  {oops}\n]', "alpaca")
    with pytest.raises(DatasetFormatError, match=r"^alpaca: line 1: invalid JSON"):
        parse('[{"instruction": "i", "output": "o"}', "alpaca")


@pytest.mark.parametrize("format", GOOD)
def test_a_file_without_examples_is_an_error(format: str) -> None:
    expected = "training-jsonl" if format == "jsonl" else format
    with pytest.raises(DatasetFormatError, match=f"^{expected}: no examples in the file$"):
        parse("\n\n", format)
    if format == "alpaca":
        with pytest.raises(DatasetFormatError, match=r"^alpaca: no examples in the file$"):
            parse(" [ ]\n", format)
