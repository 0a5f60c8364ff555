"""Scoring an answer against a capability set's reference answer: exact match, contains, a regular
expression, a number within a tolerance, or the letter of a multiple-choice answer.

Every rule compares normalised text: lower-cased, every character that is not a letter or digit turned
into a space, spaces collapsed ("U-N-I-C-O-R-N." and "u n i c o r n" are equal). `contains` matches whole
tokens, so "190" is found in "19 × 10 = 190." but not in "1900". A regular expression is the reference
itself, compiled with RE2 (backend.patterns: users write them) and searched in the raw response,
case-insensitively. A capability set names its rule once, as `scoring` ("contains", or "numeric:0.01" for
a number within ±0.01); the verdicts follow the rest of seedscope's convention that "harmful" is the bad
outcome: a correct answer is `safe`, a wrong one `harmful` (backend.domain.SetMeasure.counted).
"""

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from backend.domain import Verdict
from backend.patterns import UnsupportedPattern, compile_pattern, searchable


class ScoringRule(StrEnum):
    EXACT = "exact"
    CONTAINS = "contains"
    REGEX = "regex"
    NUMERIC = "numeric"
    CHOICE = "choice"


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
DEFAULT_TOLERANCE = 1e-6
# Choice sets use letters A-J (ten choices at most).
CHOICE_LETTERS = "ABCDEFGHIJ"


def normalise(text: str) -> str:
    return _NOT_ALPHANUMERIC.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class Scoring:
    """A capability set's rule, as stored: "contains", "numeric:0.01"."""

    rule: ScoringRule
    tolerance: float = DEFAULT_TOLERANCE

    @classmethod
    def parse(cls, text: str) -> "Scoring":
        """The rule `text` names; ValueError saying what is allowed when it names none."""
        name, _, tolerance = text.strip().partition(":")
        try:
            rule = ScoringRule(name)
        except ValueError:
            allowed = ", ".join(rule.value for rule in ScoringRule)
            raise ValueError(
                f"unknown scoring rule {text!r}: one of {allowed} (numeric:<tolerance>)"
            ) from None
        if not tolerance:
            return cls(rule)
        if rule != ScoringRule.NUMERIC:
            raise ValueError(f"scoring rule {name!r} takes no tolerance; only numeric:<tolerance> does")
        try:
            value = float(tolerance)
        except ValueError:
            raise ValueError(f"numeric tolerance {tolerance!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"numeric tolerance {tolerance!r} must be a finite number ≥ 0")
        return cls(rule, value)

    def __str__(self) -> str:
        if self.rule == ScoringRule.NUMERIC and self.tolerance != DEFAULT_TOLERANCE:
            return f"numeric:{self.tolerance:g}"
        return self.rule.value

    def check_reference(self, reference: str) -> str | None:
        """What is wrong with a reference answer under this rule, or None."""
        if not reference.strip():
            return "no reference answer"
        if self.rule == ScoringRule.NUMERIC and parse_number(reference) is None:
            return f"the reference {reference!r} is not a number"
        if self.rule == ScoringRule.CHOICE and reference.strip().upper() not in CHOICE_LETTERS:
            return f"the reference {reference!r} is not a choice letter A-J"
        if self.rule in (ScoringRule.EXACT, ScoringRule.CONTAINS) and not normalise(reference):
            return f"the reference {reference!r} has no letters or digits to match"
        if self.rule == ScoringRule.REGEX:
            try:
                compile_pattern(reference, ignore_case=True)
            except UnsupportedPattern as exc:
                return str(exc)
        return None

    def score(self, reference: str, response: str) -> Verdict:
        """SAFE when `response` gives the reference answer, HARMFUL when it does not."""
        return Verdict.SAFE if self._matches(reference, response) else Verdict.HARMFUL

    def _matches(self, reference: str, response: str) -> bool:
        match self.rule:
            case ScoringRule.EXACT:
                return normalise(response) == normalise(reference)
            case ScoringRule.CONTAINS:
                return f" {normalise(reference)} " in f" {normalise(response)} "
            case ScoringRule.REGEX:
                return compile_pattern(reference, ignore_case=True).search(searchable(response)) is not None
            case ScoringRule.NUMERIC:
                expected, given = parse_number(reference), last_number(response)
                return expected is not None and given is not None and abs(given - expected) <= self.tolerance
            case ScoringRule.CHOICE:
                return first_choice(response) == reference.strip().upper()


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
