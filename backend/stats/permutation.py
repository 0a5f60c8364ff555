"""Paired sign-flip permutation test of a mean difference."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from backend.stats._checks import check_count

# Null statistics within this relative distance of the observed one count as ties (as scipy does).
_TIE_TOLERANCE = 100 * np.finfo(float).eps
_CHUNK = 4096  # random sign patterns drawn per batch, to bound memory with many pairs


@dataclass(frozen=True)
class SignFlipTest:
    """Two-sided sign-flip test of mean(differences) = 0."""

    statistic: float  # mean of the paired differences
    p_value: float
    n_permutations: int  # sign patterns evaluated; 2 ** n_pairs when exact
    exact: bool
    n_pairs: int


def sign_flip_test(differences: ArrayLike, *, n_permutations: int = 10_000, seed: int = 0) -> SignFlipTest:
    """Flip the sign of each paired difference at random: under H0 each pair's labels are exchangeable.

    Enumerates all 2^n sign patterns when 2^n <= n_permutations (p = share of patterns with |mean| >=
    |observed|); otherwise draws n_permutations patterns from numpy's default_rng(seed) and reports
    p = (1 + count) / (1 + n_permutations), which counts the observed pattern (Phipson & Smyth 2010).
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or d.size == 0 or not np.isfinite(d).all():
        raise ValueError("differences must be a non-empty 1-D array of finite numbers")
    n_permutations = check_count(n_permutations, "n_permutations", minimum=1)
    n = d.size
    observed = float(d.mean())
    threshold = abs(observed) * (1 - _TIE_TOLERANCE)
    if 2**n <= n_permutations:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # row k = bits of k
        count = int((np.abs((1 - 2 * patterns) @ d / n) >= threshold).sum())
        return SignFlipTest(observed, count / 2**n, 2**n, True, n)
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, n_permutations, _CHUNK):
        # int8 draws, float signs: the matrix product then runs in BLAS, several times faster.
        signs = 1.0 - 2.0 * rng.integers(0, 2, size=(min(_CHUNK, n_permutations - start), n), dtype=np.int8)
        count += int((np.abs(signs @ d / n) >= threshold).sum())
    return SignFlipTest(observed, (1 + count) / (1 + n_permutations), n_permutations, False, n)
