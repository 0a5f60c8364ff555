"""Judge quality: agreement between two judges and accuracy against human labels."""

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from backend.stats.rates import wilson_interval


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa = (observed - expected) / (1 - expected) agreement of two raters."""

    kappa: float
    observed_agreement: float
    expected_agreement: float
    n: int


@dataclass(frozen=True)
class Accuracy:
    """Share of predictions equal to the truth, with a Wilson interval."""

    accuracy: float
    low: float
    high: float
    n_correct: int
    n: int


def _check_pair(first: Sequence[Hashable], second: Sequence[Hashable], names: str) -> None:
    if len(first) != len(second) or len(first) == 0:
        raise ValueError(f"{names} must be non-empty and of equal length, got {len(first)} and {len(second)}")


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> Kappa:
    """Cohen's kappa (Cohen 1960) of two raters' labels on the same items; labels may be any hashables.

    When both raters give every item one and the same label, expected agreement is 1 and kappa is 0/0:
    NaN, as in scikit-learn's cohen_kappa_score and statsmodels' cohens_kappa.
    """
    _check_pair(a, b, "a and b")
    codes = {label: code for code, label in enumerate(dict.fromkeys([*a, *b]))}
    table = np.zeros((len(codes), len(codes)))
    np.add.at(table, ([codes[x] for x in a], [codes[y] for y in b]), 1)
    n = len(a)
    observed = float(np.trace(table)) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    kappa = math.nan if expected == 1 else (observed - expected) / (1 - expected)
    return Kappa(kappa, observed, expected, n)


def accuracy(pred: Sequence[Hashable], truth: Sequence[Hashable], confidence: float = 0.95) -> Accuracy:
    """Share of items where pred equals truth, with a Wilson interval; an unscored prediction is wrong."""
    _check_pair(pred, truth, "pred and truth")
    correct = sum(p == t for p, t in zip(pred, truth, strict=True))
    interval = wilson_interval(correct, len(pred), confidence)
    return Accuracy(interval.estimate, interval.low, interval.high, correct, len(pred))
