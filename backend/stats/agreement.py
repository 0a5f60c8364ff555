"""Judge quality: agreement between two judges and accuracy against human labels."""

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from backend.stats.rates import wilson_interval


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa = (observed - expected) / (1 - expected) agreement of two raters."""

    kappa: float
    observed_agreement: float
    expected_agreement: float
    n: int
    # Large-sample standard error (Fleiss, Cohen & Everitt 1969) and the normal 95% interval; NaN with kappa.
    se: float
    low: float
    high: float


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
    p = table / n
    rows, columns = p.sum(axis=1), p.sum(axis=0)
    observed = float(np.trace(p))
    expected = float(rows @ columns)
    if expected == 1:
        return Kappa(math.nan, observed, expected, n, math.nan, math.nan, math.nan)
    kappa = (observed - expected) / (1 - expected)
    # Fleiss, Cohen & Everitt (1969), eq. 13: the variance of kappa when it is not 0.
    diagonal = np.diag(p) * (1 - (rows + columns) * (1 - kappa)) ** 2
    off_diagonal = p * (columns[:, None] + rows[None, :]) ** 2
    np.fill_diagonal(off_diagonal, 0)
    variance = (
        diagonal.sum() + (1 - kappa) ** 2 * off_diagonal.sum() - (kappa - expected * (1 - kappa)) ** 2
    ) / (n * (1 - expected) ** 2)
    se = math.sqrt(max(float(variance), 0.0))
    z = float(stats.norm.ppf(0.975))
    # The Wald interval can pass 1 when agreement is near perfect (statsmodels leaves it so); kappa cannot.
    return Kappa(kappa, observed, expected, n, se, max(kappa - z * se, -1.0), min(kappa + z * se, 1.0))


def accuracy(pred: Sequence[Hashable], truth: Sequence[Hashable], confidence: float = 0.95) -> Accuracy:
    """Share of items where pred equals truth, with a Wilson interval; an unscored prediction is wrong."""
    _check_pair(pred, truth, "pred and truth")
    correct = sum(p == t for p, t in zip(pred, truth, strict=True))
    interval = wilson_interval(correct, len(pred), confidence)
    return Accuracy(interval.estimate, interval.low, interval.high, correct, len(pred))
