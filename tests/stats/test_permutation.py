import numpy as np
import pytest
from scipy import stats

from backend.stats.permutation import sign_flip_test


def scipy_paired_pvalue(d: np.ndarray) -> float:
    """scipy's exact paired permutation test of mean(x - y), with x - y = d."""
    return stats.permutation_test(
        (d, np.zeros_like(d)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        vectorized=True,
    ).pvalue


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_enumeration_matches_scipy(seed: int) -> None:
    d = np.random.default_rng(seed).normal(0.1, 0.3, 10)
    result = sign_flip_test(d, n_permutations=1024)
    assert (result.exact, result.n_permutations, result.n_pairs) == (True, 1024, 10)
    assert result.statistic == pytest.approx(d.mean())
    assert result.p_value == pytest.approx(scipy_paired_pvalue(d), abs=1e-12)


def test_hand_computed_case_with_ties() -> None:
    # Flipping a subset with sum f turns the sum 0.5 into 0.5 - 2 f, so |.| >= 0.5 iff f <= 0 or f >= 0.5:
    # 5 subsets each (one of them, {.1, .2, -.3}, only up to rounding), 10 of the 16 patterns.
    d = np.array([0.1, 0.2, -0.3, 0.5])
    assert sign_flip_test(d).p_value == pytest.approx(10 / 16)
    assert sign_flip_test(d).p_value == pytest.approx(scipy_paired_pvalue(d))
    assert sign_flip_test(np.zeros(5)).p_value == 1.0


def test_random_signs_approximate_the_exact_pvalue_reproducibly() -> None:
    d = np.random.default_rng(3).normal(0.05, 0.3, 16)
    exact = sign_flip_test(d, n_permutations=2**16)
    sampled = sign_flip_test(d, n_permutations=20_000, seed=7)
    assert exact.exact and not sampled.exact
    assert sampled.p_value == pytest.approx(exact.p_value, abs=0.01)
    assert sign_flip_test(d, n_permutations=20_000, seed=7) == sampled
    assert sign_flip_test(d, n_permutations=20_000, seed=8).p_value != sampled.p_value


def test_sampled_pvalue_is_never_zero() -> None:
    result = sign_flip_test(np.full(40, 0.5), n_permutations=999)
    assert result.p_value == pytest.approx(1 / 1000)


@pytest.mark.parametrize(
    ("d", "n_permutations", "message"),
    [([], 10, "differences"), ([0.1, np.nan], 10, "differences"), ([0.1], 0, "n_permutations")],
)
def test_rejects_invalid_input(d: list[float], n_permutations: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sign_flip_test(d, n_permutations=n_permutations)
