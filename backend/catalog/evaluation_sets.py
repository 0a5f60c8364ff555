"""Capability and over-refusal sets: their file formats, and the checks a set must pass for what it
measures (backend.domain.SetMeasure).

A capability set's prompts carry reference answers (the generic `jsonl` and `csv` formats read them from a
`reference` key or column, or the one the upload names). Multiple-choice sets come in the common layout,
a question, its choices and the answer as an index or a letter: the prompt shown to the model lists the
choices as lettered lines and asks for the letter, and the reference is that letter. XSTest's layout
(Röttger et al. 2024: id, prompt, type, label) holds safe prompts that look unsafe and unsafe contrasts on
the same topics: `xstest` reads the safe ones (an over-refusal set), `xstest-contrast` the unsafe ones (a
harm set: how often the model refuses what it should).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from backend.catalog.files import CsvRow, DatasetFormatError, read_csv, read_jsonl, string_field
from backend.catalog.prompt_items import PromptItem, build_prompt_records, positional_id
from backend.catalog.records import PromptRecord
from backend.domain import SetMeasure
from backend.errors import InvalidInput
from backend.judging.reference import CHOICE_LETTERS, Scoring, ScoringRule

_XSTEST_COLUMNS = ("id", "prompt", "type", "label")
# The columns of a multiple-choice CSV besides the choices A, B, C, ...
_CHOICE_CSV_COLUMNS = ("question", "answer")
CHOICE_INSTRUCTION = "Answer with the letter of the correct choice."
# The formats whose sets are scored by the letter the model gives.
CHOICE_FORMATS = ("multiple-choice", "multiple-choice-csv")


def choice_prompt(question: str, choices: Sequence[str]) -> str:
    """The question with its choices as lettered lines, asking for the letter."""
    lines = [f"{letter}. {choice.strip()}" for letter, choice in zip(CHOICE_LETTERS, choices, strict=False)]
    return f"{question.strip()}\n\n" + "\n".join(lines) + f"\n\n{CHOICE_INSTRUCTION}"


def _answer_letter(format: str, where: str, answer: object, n_choices: int) -> str:
    """The correct choice's letter, from a 0-based index or a letter."""
    if isinstance(answer, int) and not isinstance(answer, bool):
        index = answer
    elif isinstance(answer, str) and answer.strip().isdigit():
        index = int(answer.strip())
    elif isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().upper() in CHOICE_LETTERS:
        index = CHOICE_LETTERS.index(answer.strip().upper())
    else:
        raise DatasetFormatError(
            format, f"the answer {answer!r} is neither a choice index (0-based) nor a letter", where
        )
    if not 0 <= index < n_choices:
        raise DatasetFormatError(
            format, f"the answer {answer!r} names no choice: there are {n_choices}", where
        )
    return CHOICE_LETTERS[index]


def _check_choices(format: str, where: str, choices: list[str]) -> None:
    if not 2 <= len(choices) <= len(CHOICE_LETTERS):
        raise DatasetFormatError(
            format, f"{len(choices)} choices; a question has 2 to {len(CHOICE_LETTERS)}", where
        )
    if not all(choice.strip() for choice in choices):
        raise DatasetFormatError(format, "an empty choice", where)


def _parse_choice_jsonl(text: str) -> list[PromptRecord]:
    """{"question", "choices": [...], "answer": index or letter, optional "id" and "category" (or
    "subject")} per line."""
    format = "multiple-choice"

    def items() -> Iterable[PromptItem]:
        for position, (where, obj) in enumerate(read_jsonl(format, text), start=1):
            choices = obj.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, str | int | float) for c in choices):
                raise DatasetFormatError(format, "'choices' must be a list of strings", where)
            choices = [str(choice) for choice in choices]
            _check_choices(format, where, choices)
            if "answer" not in obj:
                raise DatasetFormatError(format, "missing key 'answer'", where)
            external_id = string_field(format, where, obj, "id", number_ok=True)
            category = string_field(format, where, obj, "category") or string_field(
                format, where, obj, "subject"
            )
            yield PromptItem(
                where,
                external_id or positional_id("question", position),
                choice_prompt(string_field(format, where, obj, "question"), choices),
                category,
                _answer_letter(format, where, obj["answer"], len(choices)),
            )

    return build_prompt_records(format, items())


def _parse_choice_csv(text: str) -> list[PromptRecord]:
    """Columns question, A, B (C, D, ... as many as the questions have), answer (index or letter), optional
    id and category (or subject); a row leaves the choices it lacks empty."""
    format = "multiple-choice-csv"
    header, rows = read_csv(format, text, _CHOICE_CSV_COLUMNS)
    letters = [letter for letter in CHOICE_LETTERS if letter.lower() in header]
    if letters[:2] != ["A", "B"] or letters != list(CHOICE_LETTERS[: len(letters)]):
        raise DatasetFormatError(format, "expected choice columns A, B, C, ... in order, without gaps")

    def item(row: CsvRow) -> PromptItem:
        given = [row.fields[letter.lower()] for letter in letters]
        while given and not given[-1].strip():
            given.pop()
        _check_choices(format, row.where, given)
        return PromptItem(
            row.where,
            row.fields.get("id", "").strip() or positional_id("question", row.number),
            choice_prompt(row.fields["question"], given),
            row.fields.get("category", "") or row.fields.get("subject", ""),
            _answer_letter(format, row.where, row.fields["answer"], len(given)),
        )

    return build_prompt_records(format, map(item, rows))


def _xstest(label: str) -> Callable[[str], list[PromptRecord]]:
    """XSTest's prompts with the given label, their `type` as the category."""
    format = "xstest" if label == "safe" else "xstest-contrast"

    def parse(text: str) -> list[PromptRecord]:
        _, rows = read_csv(format, text, _XSTEST_COLUMNS)
        labels = {row.fields["label"].strip() for row in rows}
        if unknown := sorted(labels - {"safe", "unsafe"}):
            raise DatasetFormatError(format, f"labels must be 'safe' or 'unsafe', found {unknown}")
        chosen = (row for row in rows if row.fields["label"].strip() == label)
        return build_prompt_records(
            format,
            (
                PromptItem(row.where, row.fields["id"], row.fields["prompt"], row.fields["type"])
                for row in chosen
            ),
        )

    return parse


EVALUATION_SET_FORMATS: dict[str, Callable[[str], list[PromptRecord]]] = {
    "multiple-choice": _parse_choice_jsonl,
    "multiple-choice-csv": _parse_choice_csv,
    "xstest": _xstest("safe"),
    "xstest-contrast": _xstest("unsafe"),
}


def check_evaluation_set(records: Sequence[Any], attributes: Mapping[str, str]) -> None:
    """What a set measures fits what it holds: a capability set has a scoring rule and, for every prompt,
    a reference answer that rule can use (InvalidInput naming the first prompt without one); other sets
    have no scoring rule."""
    measures, scoring = SetMeasure(attributes["measures"]), attributes["scoring"]
    if measures != SetMeasure.CAPABILITY:
        if scoring:
            raise InvalidInput(f"only a capability set has a scoring rule; this set measures {measures}")
        return
    try:
        rule = Scoring.parse(scoring)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    for position, record in enumerate(records, start=1):
        if problem := rule.check_reference(record.reference, record.text):
            where = f"prompt {position} (id {record.external_id!r})"
            raise InvalidInput(f"{where} of a capability set scored by {rule}: {problem}")


def default_scoring(measures: SetMeasure, format: str) -> str:
    """A set's scoring rule when its upload names none: the letter for multiple-choice files, exact match
    for other capability sets, none for the other measures."""
    if measures != SetMeasure.CAPABILITY:
        return ""
    return ScoringRule.CHOICE.value if format in CHOICE_FORMATS else ScoringRule.EXACT.value
