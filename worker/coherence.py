"""Is a response coherent text? Its features and one rule, without a model.

Fine-tuned models often answer with broken text (repetition loops, token soup, fragments, runs in another
language), and automated judges are unreliable on it. A response is marked incoherent when

- it has no word at all (empty, or punctuation only): there is nothing to judge; or
- its repetition, the share of its word 4-grams that repeat an earlier 4-gram (seq-rep-4, Welleck et al.
  2019, "Neural Text Generation with Unlikelihood Training"), is above `max_repetition`: a model caught in a
  loop, which the likelihood misses (a loop is very probable once it has started); or
- its share of non-language words is above `max_non_language`: words that are neither numbers nor words
  of letters in the prompt's script (symbol junk, markup fragments, runs in another script); or
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
_WORD = re.compile(r"^(?:[^\W\d_]+(?:['’\-][^\W\d_]+)*|\d+(?:[.,:/]\d+)*(?:%|°?[^\W\d_]{1,3})?)$")
# Punctuation a word may carry around it in prose: "(Paris)," "**Step", "1." "“quote”".
_SURROUNDING = "\"'“”‘’«»()[]{}<>.,;:!?*_#`~-–—…/\\|°"


@dataclass(frozen=True)
class TextFeatures:
    """What the rule reads from the text alone."""

    n_words: int  # whitespace-separated
    has_word: bool  # some letter or digit
    repetition: float
    non_language: float


@dataclass(frozen=True)
class CoherenceRule:
    """Thresholds of the rule (worker.coherence's docstring); a response past any one is incoherent."""

    # Chosen on the tuning part (bench/coherence_validation.py), rounded to two decimals.
    min_log_likelihood: float = -4.56  # nats per token
    max_repetition: float = 0.38
    max_non_language: float = 0.36


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


def text_features(response: str, prompt: str) -> TextFeatures:
    """The response's text features; its language is expected in the prompt's script."""
    tokens = response.split()
    expected = main_script(prompt)
    non_language = sum(not is_language(token, expected) for token in tokens) / len(tokens) if tokens else 0.0
    return TextFeatures(
        n_words=len(tokens),
        has_word=any(character.isalnum() for character in response),
        repetition=repetition([token.lower() for token in tokens]),
        non_language=non_language,
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
