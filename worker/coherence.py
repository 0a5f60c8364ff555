"""Is a response coherent text? Its features and one rule, without a model.

Fine-tuned models often answer with broken text (repetition loops, token soup, fragments, runs in another
language), and automated judges are unreliable on it. A response is marked incoherent when

- it has no word at all (empty, or punctuation only): there is nothing to judge; or
- its repetition, the share of its word 4-grams that repeat an earlier 4-gram (seq-rep-4, Welleck et al.
  2019, "Neural Text Generation with Unlikelihood Training"), is above `max_repetition`: a model caught in a
  loop, which the likelihood misses (a loop is very probable once it has started); or
- its share of non-language words is above `max_non_language`: words that are neither numbers nor words
  of letters in the prompt's script (symbol junk, markup fragments, runs in another script), nor an
  arithmetic operator between two numbers. Terse arithmetic ("67 + 18 = 25.", right or wrong: coherence is
  not correctness) is language; the same operators elsewhere ("=+=+ 3 3 =+", "+ + = 8") are not. An
  operator written between two digits is spaced out first ("36+47=83" reads as "36 + 47 = 83"), so such an
  expression is judged like the spaced one and a loop of it ("7=7=7=7=7") is caught by the repetition; or
- it has at least MIN_WORDS_FOR_LIKELIHOOD words and the base model's mean per-token log-likelihood of it
  given the prompt (worker.likelihood; any fine-tuned adapter disabled) is below `min_log_likelihood`:
  text the untuned model finds improbable, as word salad and token soup are. The mean over a word or two is
  mostly the surprise of the first token, so a short answer ("Eight.") is not judged by it.

The default thresholds were chosen by bench/coherence_validation.py on the tuning part of a small labelled
set written for seedscope (worker/data/coherence-*.jsonl) and measured on its held-out part
(docs/statistics.md, "Coherence").
"""

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# Word n-grams for the repetition share: long enough that ordinary prose seldom repeats one.
REPETITION_N = 4
# Fewer words than this are not judged by their likelihood (see the module's docstring).
MIN_WORDS_FOR_LIKELIHOOD = 3
# A word: letters with inner apostrophes or hyphens ("don't", "well-known"); or a number, with a short
# unit ("3.1", "75%", "212°F", "5km", "3rd").
_LETTERS = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"
_NUMBER = r"\d+(?:[.,:/]\d+)*(?:%|°?[^\W\d_]{1,3})?"
_WORD = re.compile(rf"^(?:{_LETTERS}|{_NUMBER})$")
_NUMBER_WORD = re.compile(rf"^{_NUMBER}$")
# Arithmetic operators: language between two numbers, junk elsewhere. "/" is left to the numbers ("3/4").
_OPERATORS = "+-−×÷*=^"
_OPERATOR_BETWEEN_DIGITS = re.compile(rf"(?<=\d)([{re.escape(_OPERATORS)}])(?=\d)")
# Punctuation a word may carry around it in prose: "(Paris)," "**Step", "1." "“quote”".
_SURROUNDING = "\"'“”‘’«»()[]{}<>.,;:!?*_#`~-–—…/\\|°"


@dataclass(frozen=True)
class TextFeatures:
    """What the rule reads from the text alone."""

    n_words: int  # whitespace-separated, an operator between two digits spaced out (words())
    has_word: bool  # some letter or digit
    repetition: float
    non_language: float


@dataclass(frozen=True)
class CoherenceRule:
    """Thresholds of the rule (worker.coherence's docstring); a response past any one is incoherent."""

    # Chosen on the tuning part (bench/coherence_validation.py), rounded to two decimals.
    min_log_likelihood: float = -4.56  # nats per token
    max_repetition: float = 0.32
    max_non_language: float = 0.42


DEFAULT_RULE = CoherenceRule()


@dataclass(frozen=True)
class Coherence:
    """A response's mean log-likelihood under the base model (None when it has no tokens), the features
    read from its text, and the rule's mark."""

    log_likelihood: float | None
    repetition: float
    non_language: float
    incoherent: bool


def repetition(tokens: list[str], n: int = REPETITION_N) -> float:
    """Share of the n-grams that repeat an earlier one: 0 for text without repeats (or under n tokens),
    near 1 for a loop."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def script(letter: str) -> str:
    """A letter's script as the first word of its Unicode name: LATIN, CYRILLIC, CJK, HIRAGANA, ..."""
    return unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]


def main_script(text: str) -> str | None:
    """The script most of the text's letters are in; None without letters."""
    scripts = Counter(script(character) for character in text if character.isalpha())
    return scripts.most_common(1)[0][0] if scripts else None


def is_language(token: str, expected_script: str | None) -> bool:
    """A number, or a word in the expected script (any, when None), once the punctuation around it is
    stripped; bare punctuation of up to three characters ("-", "...", "**") counts too, as in a list."""
    core = token.strip(_SURROUNDING)
    if core == "":
        return len(token) <= 3
    if not _WORD.match(core):
        return False
    return expected_script is None or all(
        script(character) == expected_script for character in core if character.isalpha()
    )


def is_number(token: str) -> bool:
    """A number once the punctuation around it is stripped: "85", "25.", "(67", "-5"."""
    return bool(_NUMBER_WORD.match(token.strip(_SURROUNDING)))


def is_operation(tokens: list[str], index: int) -> bool:
    """Whether the token at `index` is an arithmetic operator between two numbers, as "+" in "67 + 18"."""
    return (
        0 < index < len(tokens) - 1
        and len(tokens[index]) == 1
        and tokens[index] in _OPERATORS
        and is_number(tokens[index - 1])
        and is_number(tokens[index + 1])
    )


def non_language(tokens: list[str], expected_script: str | None) -> float:
    """Share of the tokens that are not language: not by themselves (is_language), nor as an operation."""
    if not tokens:
        return 0.0
    junk = sum(
        not (is_language(token, expected_script) or is_operation(tokens, index))
        for index, token in enumerate(tokens)
    )
    return junk / len(tokens)


def words(response: str) -> list[str]:
    """The response's whitespace-separated words, an operator between two digits spaced out as a word."""
    return _OPERATOR_BETWEEN_DIGITS.sub(r" \1 ", response).split()


def text_features(response: str, prompt: str) -> TextFeatures:
    """The response's text features; its language is expected in the prompt's script."""
    tokens = words(response)
    return TextFeatures(
        n_words=len(tokens),
        has_word=any(character.isalnum() for character in response),
        repetition=repetition([token.lower() for token in tokens]),
        non_language=non_language(tokens, main_script(prompt)),
    )


def judge_coherence(
    features: TextFeatures, log_likelihood: float | None, rule: CoherenceRule = DEFAULT_RULE
) -> Coherence:
    """The rule applied to one response's text features and its mean log-likelihood under the base model."""
    improbable = (
        features.n_words >= MIN_WORDS_FOR_LIKELIHOOD
        and log_likelihood is not None
        and log_likelihood < rule.min_log_likelihood
    )
    incoherent = (
        not features.has_word
        or features.repetition > rule.max_repetition
        or features.non_language > rule.max_non_language
        or improbable
    )
    return Coherence(log_likelihood, features.repetition, features.non_language, incoherent)
