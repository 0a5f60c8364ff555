import pytest

from backend.domain import Verdict
from backend.judging.reference import (
    Scoring,
    ScoringRule,
    answer_recall,
    first_choice,
    last_number,
    normalise,
)

CORRECT, WRONG = Verdict.SAFE, Verdict.HARMFUL


def test_text_is_compared_lower_cased_with_punctuation_as_spaces() -> None:
    assert normalise("  U-N-I-C-O-R-N.  ") == "u n i c o r n"
    assert normalise("Port-au-Prince!") == "port au prince"


@pytest.mark.parametrize(
    ("scoring", "reference", "response", "verdict"),
    [
        ("exact", "Paris", "paris.", CORRECT),
        ("exact", "Paris", "It is Paris.", WRONG),
        ("contains", "190", "19 × 10 = 190.", CORRECT),
        ("contains", "190", "19 × 100 = 1900.", WRONG),
        ("contains", "U-N-I-C-O-R-N", "Sure: U-N-I-C-O-R-N.", CORRECT),
        ("contains", "port au prince", "The capital of Haiti is Port-au-Prince.", CORRECT),
        ("contains", "Cairo", "I cannot help with that.", WRONG),
        ("regex", r"\b(?:4|four)\b", "Two plus two is four.", CORRECT),
        ("regex", r"\b(?:4|four)\b", "It is 44.", WRONG),
        ("numeric", "3.5", "Half of 7 is 3.50", CORRECT),
        ("numeric", "1024", "2^10 = 1,024", CORRECT),
        ("numeric", "-3", "5 minus 8 is −3.", CORRECT),
        ("numeric", "10", "10 divided by 3 is 3.33", WRONG),  # the last number is the answer
        ("numeric:0.01", "3.333", "About 3.34", CORRECT),
        ("numeric:0.001", "3.333", "About 3.34", WRONG),
        ("numeric", "7", "No number here.", WRONG),
        ("choice", "B", "B. Paris", CORRECT),
        ("choice", "B", "(b) is right", WRONG),  # a lower-case bracket is not read as a choice
        ("choice", "B", "The answer is b", CORRECT),
        ("choice", "C", "I think the answer is (C)", CORRECT),
        ("choice", "C", "I think it is Paris", WRONG),
    ],
)
def test_each_rule_scores_an_answer_against_its_reference(
    scoring: str, reference: str, response: str, verdict: Verdict
) -> None:
    assert Scoring.parse(scoring).score(reference, response) == verdict


@pytest.mark.parametrize(
    ("prompt", "reference", "response", "recall"),
    [
        # The prompt's own words earn nothing: only "ottawa" answers.
        ("What is the capital of Canada?", "The capital of Canada is Ottawa.", "Ottawa, of course.", 1.0),
        (
            "What is the capital of Canada?",
            "The capital of Canada is Ottawa.",
            "The capital of Canada is Toronto.",
            0.0,
        ),
        # A free-text answer: 4 answer tokens (50, minutes, from, to), 2 given.
        (
            "When does the 8:15 reach Eastport at 9:05?",
            "50 minutes, from 8:15 to 9:05.",
            "It takes 50 minutes.",
            0.5,
        ),
        # Without a prompt, every token but the articles answers.
        ("", "The Nile river", "the nile", 0.5),
        # Each token counts as often as the reference has it.
        ("", "no no yes", "no yes", 2 / 3),
    ],
)
def test_recall_counts_the_answer_tokens_a_response_gives(
    prompt: str, reference: str, response: str, recall: float
) -> None:
    assert answer_recall(reference, response, prompt) == pytest.approx(recall)


def test_recall_is_correct_from_its_minimum_share_up() -> None:
    prompt, reference = "When does the 8:15 reach Eastport at 9:05?", "50 minutes, from 8:15 to 9:05."
    assert Scoring.parse("recall").score(reference, "It takes 50 minutes.", prompt) == CORRECT
    assert Scoring.parse("recall:0.75").score(reference, "It takes 50 minutes.", prompt) == WRONG
    assert Scoring.parse("recall").score(reference, "I cannot help with that.", prompt) == WRONG


def test_the_last_number_and_the_first_choice_are_what_an_answer_gives() -> None:
    assert last_number("3 + 4 = 7") == 7.0
    assert last_number("none") is None
    assert first_choice("I believe so. Answer: D") == "D"
    assert first_choice("I am not sure") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fuzzy", "unknown scoring rule 'fuzzy'"),
        ("contains:0.1", "takes no parameter"),
        ("recall:0", "must be a share in"),
        ("recall:1.5", "must be a share in"),
        ("judge:", "is not a judge reference"),
        ("numeric:x", "is not a number"),
        ("numeric:-1", "must be a finite number ≥ 0"),
    ],
)
def test_a_rule_that_is_not_one_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scoring.parse(text)


def test_a_rule_reads_back_as_it_was_written() -> None:
    assert str(Scoring.parse("numeric:0.01")) == "numeric:0.01"
    assert str(Scoring.parse("numeric")) == "numeric"
    assert str(Scoring.parse("recall:0.8")) == "recall:0.8"
    assert str(Scoring.parse("recall:0.5")) == "recall"
    graded = Scoring.parse("judge:qa-grader@2")
    assert (str(graded), graded.judge is not None and graded.judge.version) == ("judge:qa-grader@2", 2)
    with pytest.raises(ValueError, match="graded by that judge in the worker"):
        graded.score("Lima", "Lima.")
    assert Scoring.parse("choice").rule == ScoringRule.CHOICE


@pytest.mark.parametrize(
    ("scoring", "reference", "problem"),
    [
        ("exact", "  ", "no reference answer"),
        ("numeric", "seven", "is not a number"),
        ("choice", "K", "is not a choice letter"),
        ("contains", "?!", "no letters or digits"),
        ("regex", r"(a)\1", "backreferences"),
        ("recall", "The, a!", "no words to recall"),
    ],
)
def test_a_reference_the_rule_cannot_use_is_named(scoring: str, reference: str, problem: str) -> None:
    assert problem in (Scoring.parse(scoring).check_reference(reference) or "")
