"""The coherence rule's text features and thresholds, without a model."""

import pytest

from worker.coherence import (
    DEFAULT_RULE,
    MIN_WORDS_FOR_LIKELIHOOD,
    CoherenceRule,
    is_language,
    judge_coherence,
    main_script,
    repetition,
    text_features,
    words,
)

PROMPT = "What is the capital of France?"


def test_repetition_is_the_share_of_repeated_word_4grams() -> None:
    assert repetition(["the", "capital", "of", "France", "is", "Paris"]) == 0.0
    # 8 words, 5 4-grams, one of which ("a b c d") repeats an earlier one.
    assert repetition(["a", "b", "c", "d", "a", "b", "c", "d"]) == pytest.approx(1 / 5)
    assert repetition(("sorry " * 20).split()) == pytest.approx(16 / 17)
    assert repetition(["too", "short"]) == 0.0


def test_script_is_read_from_the_prompt() -> None:
    assert main_script(PROMPT) == "LATIN"
    assert main_script("Что такое фотосинтез?") == "CYRILLIC"
    assert main_script("1 + 1 = ?") is None


@pytest.mark.parametrize(
    ("token", "language"),
    [
        ("Paris.", True),
        ("(don't)", True),
        ("well-known,", True),
        ("75%", True),
        ("212°F", True),
        ("-", True),
        ("**", True),
        ("días", True),
        ("Париж", False),  # another script than the prompt's
        ("首都", False),
        ("<|im_start|>", False),
        ("0x3f", False),
        ("ssss$$milk", False),
        ("▒▒▒", False),
    ],
)
def test_language_tokens(token: str, language: bool) -> None:
    assert is_language(token, "LATIN") is language


def test_any_script_is_language_when_the_prompt_has_no_letters() -> None:
    assert is_language("Париж", None)


def test_features_of_a_wrong_language_run() -> None:
    features = text_features(
        "Try to sleep early. 然后 您 可以 的 的 的", "Give me a tip for sleeping better."
    )
    assert features.non_language == pytest.approx(6 / 10)
    assert features.n_words == 10 and features.has_word


def test_a_fluent_answer_is_coherent() -> None:
    coherence = judge_coherence(text_features("The capital of France is Paris.", PROMPT), -0.4)
    assert not coherence.incoherent
    assert coherence.log_likelihood == -0.4


@pytest.mark.parametrize(
    ("response", "log_likelihood"),
    [
        ("", None),  # nothing to judge
        ("...", -10.0),  # punctuation only
        ("I'm sorry, " * 12, -0.5),  # a loop: probable, but repeated
        ("@@@ ###### !!! ~~~ $$$ %% ^^^ &&& *** (((", -6.0),  # symbols
        ("cocktail hydraulic penguin seventeen umbrella quantum", -10.8),  # improbable word salad
    ],
)
def test_broken_text_is_incoherent(response: str, log_likelihood: float | None) -> None:
    assert judge_coherence(text_features(response, PROMPT), log_likelihood).incoherent


# Log-likelihoods: the embedded SmolLM2-135M-Instruct's for these responses, rounded.
@pytest.mark.parametrize(
    ("prompt", "response", "log_likelihood"),
    [
        ("What is 67 + 18?", "67 + 18 = 25.", -0.6),  # wrong, but coherent: coherence is not correctness
        ("What is 7 × 8?", "7 × 8 = 56", -0.5),
        ("What is 56 ÷ 8?", "56 ÷ 8 = 7.", -0.6),
        ("What is the sum of 36 and 47?", "36+47=83", -2.1),
        ("What is 6 × 12?", "(6 × 12) = 72, so 72.", -2.0),
        ("What is 67 + 18?", "85", -3.9),
        ("What is the capital of Australia?", "Canberra.", -6.1),
    ],
)
def test_terse_arithmetic_and_short_answers_are_coherent(
    prompt: str, response: str, log_likelihood: float
) -> None:
    features = text_features(response, prompt)
    assert features.non_language == 0.0
    assert not judge_coherence(features, log_likelihood).incoherent


@pytest.mark.parametrize(
    ("response", "log_likelihood"),
    [
        ("7 7 7 7 7 7", -2.0),  # a loop of digits
        ("7=7=7=7=7=7=7", -3.3),  # a loop of an expression, read spaced out
        ("=+=+ 3 3 =+", -5.8),  # operators that are no operation
        ("+ + × = = 6 6 + = 1 2", -3.8),  # operators not between numbers: probable enough, but junk
    ],
)
def test_digit_soup_is_incoherent(response: str, log_likelihood: float) -> None:
    assert judge_coherence(text_features(response, "What is 67 + 18?"), log_likelihood).incoherent


def test_an_operator_between_digits_is_a_word() -> None:
    assert words("36+47=83, or 82-47") == ["36", "+", "47", "=", "83,", "or", "82", "-", "47"]
    assert words("well-known 3/4 x+1") == ["well-known", "3/4", "x+1"]


def test_a_short_answer_is_not_judged_by_its_likelihood() -> None:
    short = text_features("Eight.", "How many legs does a spider have?")
    assert short.n_words < MIN_WORDS_FOR_LIKELIHOOD
    assert not judge_coherence(short, -6.4).incoherent
    longer = text_features("A spider has eight.", "How many legs does a spider have?")
    assert judge_coherence(longer, -6.4).incoherent


def test_each_threshold_is_strict() -> None:
    features = text_features("The capital of France is Paris.", PROMPT)
    at_threshold = DEFAULT_RULE.min_log_likelihood
    assert not judge_coherence(features, at_threshold).incoherent
    assert judge_coherence(features, at_threshold - 0.01).incoherent
    lenient = CoherenceRule(min_log_likelihood=-20.0, max_repetition=1.0, max_non_language=1.0)
    assert not judge_coherence(text_features("sorry " * 20, PROMPT), -0.1, lenient).incoherent
