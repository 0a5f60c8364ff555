from typing import Literal

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from backend.stats.multitest import adjust_pvalues

PVALUES = np.array([0.01, 0.04, 0.03, 0.005, 0.5, 0.04, 0.2, 0.0001, 1.0])


@pytest.mark.parametrize(("method", "reference"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_matches_statsmodels(method: Literal["holm", "bh"], reference: str) -> None:
    rng = np.random.default_rng(0)
    for pvalues in (PVALUES, rng.uniform(0, 0.2, 30), np.array([0.3])):
        expected = multipletests(pvalues, method=reference)[1]
        np.testing.assert_allclose(adjust_pvalues(pvalues, method), expected, rtol=1e-12)


def test_hand_computed_case() -> None:
    # Sorted p = .01, .02, .04 (m = 3). Holm: 3*.01, max(.03, 2*.02), max(.04, .04) = .03, .04, .04.
    # BH: min over the tail of m p / rank: .03, .03, .04.
    p = [0.04, 0.01, 0.02]
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.04, 0.03, 0.04])
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.04, 0.03, 0.03])


@pytest.mark.parametrize(
    ("pvalues", "method"), [([0.1, 1.5], "holm"), ([np.nan], "bh"), ([0.1], "bonferroni")]
)
def test_rejects_invalid_input(pvalues: list[float], method: str) -> None:
    with pytest.raises(ValueError, match=r"pvalues|method"):
        adjust_pvalues(pvalues, method)  # type: ignore[arg-type]
