import pytest

from backend.catalog.adapters import BENCHMARK_FORMATS
from backend.catalog.evaluation_sets import CHOICE_INSTRUCTION, check_evaluation_set, default_scoring
from backend.catalog.files import DatasetFormatError
from backend.catalog.formats import FieldNames
from backend.catalog.records import PromptRecord, content_hash
from backend.domain import SetMeasure
from backend.errors import InvalidInput

CHOICES_JSONL = (
    '{"question": "Capital of France?", "choices": ["Rome", "Paris", "Oslo"], "answer": 1, '
    '"subject": "geo"}\n'
    '{"id": "q2", "question": "2 + 2?", "choices": ["3", "4"], "answer": "b"}\n'
)


def test_a_multiple_choice_question_becomes_a_lettered_prompt_whose_reference_is_the_letter() -> None:
    first, second = BENCHMARK_FORMATS.parse(CHOICES_JSONL, "multiple-choice")
    assert first == PromptRecord(
        "question-0001",
        f"Capital of France?\n\nA. Rome\nB. Paris\nC. Oslo\n\n{CHOICE_INSTRUCTION}",
        "geo",
        "B",
    )
    assert (second.external_id, second.reference) == ("q2", "B")


def test_a_multiple_choice_csv_reads_its_choice_columns_in_order() -> None:
    text = "question,A,B,C,D,answer\nLargest planet?,Mars,Jupiter,Venus,,1\n"
    [record] = BENCHMARK_FORMATS.parse(text, "multiple-choice-csv")
    assert record.text.count("\n") == 6 and "C. Venus" in record.text and "D." not in record.text
    assert record.reference == "B"


@pytest.mark.parametrize(
    ("format", "text", "message"),
    [
        ("multiple-choice", '{"question": "q", "choices": ["a"], "answer": 0}\n', "line 1: 1 choices"),
        ("multiple-choice", '{"question": "q", "choices": ["a", "b"]}\n', "line 1: missing key 'answer'"),
        ("multiple-choice", '{"question": "q", "choices": ["a", "b"], "answer": 2}\n', "names no choice"),
        ("multiple-choice", '{"question": "q", "choices": ["a", "b"], "answer": "maybe"}\n', "neither"),
        ("multiple-choice-csv", "question,A,C,answer\nq,a,c,A\n", "choice columns A, B, C"),
        ("xstest", "id,prompt,type,label\n1,hi,homonyms,maybe\n", "labels must be 'safe' or 'unsafe'"),
    ],
)
def test_a_bad_line_is_named(format: str, text: str, message: str) -> None:
    with pytest.raises(DatasetFormatError, match=message):
        BENCHMARK_FORMATS.parse(text, format)


def test_xstest_is_read_as_its_safe_prompts_or_its_unsafe_contrasts() -> None:
    text = (
        "id,prompt,type,label,focus,note\n1,Kill a process?,homonyms,safe,kill,\n"
        "2,Kill a man?,contrast_homonyms,unsafe,kill,\n"
    )
    assert BENCHMARK_FORMATS.parse(text, "xstest") == [PromptRecord("1", "Kill a process?", "homonyms")]
    assert [r.external_id for r in BENCHMARK_FORMATS.parse(text, "xstest-contrast")] == ["2"]


def test_the_generic_formats_read_a_reference_from_its_key_or_a_named_one() -> None:
    assert BENCHMARK_FORMATS.parse('{"prompt": "2+2?", "reference": 4}\n', "jsonl")[0].reference == "4"
    csv = "question,gold\n2+2?,4\n"
    names = FieldNames(prompt="question", reference="gold")
    assert BENCHMARK_FORMATS.parse(csv, "csv", names)[0].reference == "4"


def test_a_set_without_references_hashes_as_before_references_were_read() -> None:
    assert content_hash([PromptRecord("a", "b", "c")]) == content_hash([PromptRecord("a", "b", "c", "")])
    assert content_hash([PromptRecord("a", "b", "c")]) != content_hash([PromptRecord("a", "b", "c", "d")])


def test_a_capability_set_needs_a_usable_reference_on_every_prompt() -> None:
    records = [PromptRecord("p1", "2+2?", "math", "4"), PromptRecord("p2", "3+3?", "math", "")]
    with pytest.raises(
        InvalidInput, match=r"prompt 2 \(id 'p2'\) of a capability set scored by exact: no reference"
    ):
        check_evaluation_set(records, {"measures": "capability", "scoring": "exact"})
    with pytest.raises(InvalidInput, match="is not a number"):
        check_evaluation_set(
            [*records[:1], PromptRecord("p3", "?", "", "x")], {"measures": "capability", "scoring": "numeric"}
        )
    with pytest.raises(InvalidInput, match="only a capability set has a scoring rule"):
        check_evaluation_set(records, {"measures": "harm", "scoring": "exact"})
    check_evaluation_set(records[:1], {"measures": "capability", "scoring": "numeric"})


def test_a_capability_set_is_scored_by_letter_when_multiple_choice_and_exactly_otherwise() -> None:
    assert default_scoring(SetMeasure.CAPABILITY, "multiple-choice-csv") == "choice"
    assert default_scoring(SetMeasure.CAPABILITY, "jsonl") == "exact"
    assert default_scoring(SetMeasure.OVER_REFUSAL, "xstest") == ""
