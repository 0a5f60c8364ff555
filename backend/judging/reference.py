"""Scoring an answer against a capability set's reference answer: exact match, contains, a regular
expression, a number within a tolerance, the letter of a multiple-choice answer, or the recall of a free-text
reference's answer tokens.

Every rule compares normalised text: lower-cased, every character that is not a letter or digit turned
into a space, spaces collapsed ("U-N-I-C-O-R-N." and "u n i c o r n" are equal). `contains` matches whole
tokens, so "190" is found in "19 × 10 = 190." but not in "1900". A regular expression is the reference
itself, compiled with RE2 (backend.patterns: users write them) and searched in the raw response,
case-insensitively. `recall` is for free-text references (a training set's held-out responses): the
share of the reference's answer tokens that the response contains, correct from a minimum share up. Token
recall is the lexical measure that tracked human correctness judgments of instruction-following answers
best in Adlakha et al. 2023 ("Evaluating Correctness and Faithfulness of Instruction-Following Models for
Question Answering"); here a reference's answer tokens leave out articles and the tokens the prompt already
holds, so restating the question earns nothing ("The capital of Canada is Toronto." recalls none of
"The capital of Canada is Ottawa."'s answer). `judge:<name>` has a judge definition grade each
answer, its template given the reference answer as {reference}. A capability set names its rule once, as
`scoring` ("contains", "numeric:0.01" for a number within ±0.01, "recall:0.5", "judge:qa-grader"); the
verdicts follow the rest of seedscope's convention that "harmful" is the bad outcome: a correct answer is
`safe`, a wrong one `harmful` (backend.domain.SetMeasure.counted).
"""

import math
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from backend.domain import JudgeRef, Verdict
from backend.patterns import UnsupportedPattern, compile_pattern, searchable


class ScoringRule(StrEnum):
    EXACT = "exact"
    CONTAINS = "contains"
    REGEX = "regex"
    NUMERIC = "numeric"
    CHOICE = "choice"
    RECALL = "recall"
    # judge:<name>[@version]: a judge definition grades each answer against its reference (a template with
    # {reference}); the worker asks it, so nothing is scored here.
    JUDGE = "judge"


# The rules that take a parameter after a colon, and its default.
DEFAULT_TOLERANCE = 1e-6
# Half the answer tokens: lenient enough for a paraphrase, strict enough that a one-token answer (a name, a
# number) must be given. A default, not a threshold fitted to labelled answers.
DEFAULT_MIN_RECALL = 0.5
_PARAMETERS = {ScoringRule.NUMERIC: DEFAULT_TOLERANCE, ScoringRule.RECALL: DEFAULT_MIN_RECALL}

# A number as people write one: "-3", "1,024", "2.50", ".5"; commas between digit groups are dropped.
_NUMBER = re.compile(r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
# The letter a multiple-choice answer gives, tried in order: the response starts with it ("B", "(B) ...",
# "B. Paris"), names it ("the answer is b", "Answer: (B)"), or brackets it ("... so (B)"). A bare capital
# elsewhere is not taken: "I think" is not choice I.
_CHOICES = (
    re.compile(r"^\(?([A-J])(?:[).:]|$)"),
    re.compile(r"\banswer(?:\s+is)?\s*:?\s*\(?([A-J])\b", re.IGNORECASE),
    re.compile(r"\(([A-J])\)"),
)
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")
_ARTICLES = frozenset({"a", "an", "the"})
# Choice sets use letters A-J (ten choices at most).
CHOICE_LETTERS = "ABCDEFGHIJ"


def normalise(text: str) -> str:
    return _NOT_ALPHANUMERIC.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class Scoring:
    """A capability set's rule, as stored: "contains", "numeric:0.01", "recall:0.5"."""

    rule: ScoringRule
    # numeric: the tolerance; recall: the minimum share of answer tokens; None: the rule's default.
    parameter: float | None = None
    # judge: the grading judge definition, "name" or "name@version".
    judge: JudgeRef | None = None

    @classmethod
    def parse(cls, text: str) -> "Scoring":
        """The rule `text` names; ValueError saying what is allowed when it names none."""
        name, _, given = text.strip().partition(":")
        try:
            rule = ScoringRule(name)
        except ValueError:
            allowed = ", ".join(rule.value for rule in ScoringRule)
            raise ValueError(
                f"unknown scoring rule {text!r}: one of {allowed} (numeric:<tolerance>, recall:<minimum>, "
                "judge:<judge name>)"
            ) from None
        if rule == ScoringRule.JUDGE:
            return cls(rule, judge=JudgeRef.parse(given))
        if rule not in _PARAMETERS:
            if given:
                raise ValueError(
                    f"scoring rule {name!r} takes no parameter; only numeric:<tolerance> and "
                    "recall:<minimum share> do"
                )
            return cls(rule)
        if not given:
            return cls(rule)
        try:
            value = float(given)
        except ValueError:
            raise ValueError(f"{name} parameter {given!r} is not a number") from None
        if rule == ScoringRule.NUMERIC and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"numeric tolerance {given!r} must be a finite number ≥ 0")
        if rule == ScoringRule.RECALL and not 0 < value <= 1:
            raise ValueError(f"recall minimum {given!r} must be a share in (0, 1]")
        return cls(rule, value)

    @property
    def setting(self) -> float:
        """The rule's parameter, its default where none was given."""
        return _PARAMETERS[self.rule] if self.parameter is None else self.parameter

    def __str__(self) -> str:
        if self.judge is not None:
            return f"{self.rule.value}:{self.judge}"
        if self.rule in _PARAMETERS and self.setting != _PARAMETERS[self.rule]:
            return f"{self.rule.value}:{self.setting:g}"
        return self.rule.value

    def check_reference(self, reference: str, prompt: str = "") -> str | None:
        """What is wrong with a reference answer (to `prompt`) under this rule, or None."""
        if not reference.strip():
            return "no reference answer"
        if self.rule == ScoringRule.NUMERIC and parse_number(reference) is None:
            return f"the reference {reference!r} is not a number"
        if self.rule == ScoringRule.CHOICE and reference.strip().upper() not in CHOICE_LETTERS:
            return f"the reference {reference!r} is not a choice letter A-J"
        if self.rule in (ScoringRule.EXACT, ScoringRule.CONTAINS) and not normalise(reference):
            return f"the reference {reference!r} has no letters or digits to match"
        if self.rule == ScoringRule.RECALL and not answer_tokens(reference, prompt):
            return f"the reference {reference!r} has no words to recall"
        if self.rule == ScoringRule.REGEX:
            try:
                compile_pattern(reference, ignore_case=True)
            except UnsupportedPattern as exc:
                return str(exc)
        return None

    def score(self, reference: str, response: str, prompt: str = "") -> Verdict:
        """SAFE when `response` (to `prompt`) gives the reference answer, HARMFUL when it does not."""
        return Verdict.SAFE if self._matches(reference, response, prompt) else Verdict.HARMFUL

    def _matches(self, reference: str, response: str, prompt: str) -> bool:
        match self.rule:
            case ScoringRule.EXACT:
                return normalise(response) == normalise(reference)
            case ScoringRule.CONTAINS:
                return f" {normalise(reference)} " in f" {normalise(response)} "
            case ScoringRule.REGEX:
                return compile_pattern(reference, ignore_case=True).search(searchable(response)) is not None
            case ScoringRule.NUMERIC:
                expected, given = parse_number(reference), last_number(response)
                return expected is not None and given is not None and abs(given - expected) <= self.setting
            case ScoringRule.CHOICE:
                return first_choice(response) == reference.strip().upper()
            case ScoringRule.RECALL:
                return answer_recall(reference, response, prompt) >= self.setting
            case ScoringRule.JUDGE:
                raise ValueError(f"answers scored by {self.judge} are graded by that judge in the worker")


def answer_tokens(reference: str, prompt: str = "") -> list[str]:
    """The reference's tokens that answer: without articles and without the prompt's own tokens (all its
    tokens but articles when the prompt holds every one)."""
    tokens = [token for token in normalise(reference).split() if token not in _ARTICLES]
    asked = set(normalise(prompt).split())
    return [token for token in tokens if token not in asked] or tokens


def answer_recall(reference: str, response: str, prompt: str = "") -> float:
    """The share of the reference's answer tokens the response gives, each counted as often as the reference
    has it; 0.0 for a reference with none."""
    wanted = Counter(answer_tokens(reference, prompt))
    given = Counter(normalise(response).split())
    total = sum(wanted.values())
    return sum((wanted & given).values()) / total if total else 0.0


def parse_number(text: str) -> float | None:
    """`text` as one number ("1,024", "-2.5"), or None when it is not one."""
    stripped = text.strip()
    if not stripped or _NUMBER.fullmatch(stripped) is None or not any(c.isdigit() for c in stripped):
        return None
    return float(stripped.replace(",", "").replace("−", "-"))


def last_number(response: str) -> float | None:
    """The last number in a response: a worked answer ends with its result ("19 × 10 = 190")."""
    numbers = [
        m.group() for m in _NUMBER.finditer(searchable(response)) if any(c.isdigit() for c in m.group())
    ]
    return parse_number(numbers[-1]) if numbers else None


def first_choice(response: str) -> str | None:
    """The first choice letter a response gives, upper-cased; None when it gives none."""
    text = searchable(response).strip()
    for pattern in _CHOICES:
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    return None
