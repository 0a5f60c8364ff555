import math

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.proportion import proportion_confint

from backend.stats.agreement import accuracy, cohens_kappa


def test_hand_computed_kappa() -> None:
    # Observed agreement 3/4; marginals (1/2, 1/2) and (1/4, 3/4) give expected 1/2; kappa = .25 / .5.
    result = cohens_kappa(["harmful", "harmful", "safe", "safe"], ["harmful", "safe", "safe", "safe"])
    assert (result.observed_agreement, result.expected_agreement, result.n) == (0.75, 0.5, 4)
    assert result.kappa == 0.5


def test_kappa_matches_statsmodels_on_the_contingency_table() -> None:
    rng = np.random.default_rng(0)
    labels = ["harmful", "safe", "unscored"]
    a = rng.choice(3, 200, p=[0.3, 0.6, 0.1])
    b = np.where(rng.random(200) < 0.7, a, rng.choice(3, 200))
    table = np.zeros((3, 3))
    np.add.at(table, (a, b), 1)
    result = cohens_kappa([labels[i] for i in a], [labels[i] for i in b])
    reference = sm_cohens_kappa(table)
    assert result.kappa == pytest.approx(reference.kappa, rel=1e-12)
    assert result.se == pytest.approx(reference.std_kappa, rel=1e-9)
    assert (result.low, result.high) == pytest.approx((reference.kappa_low, reference.kappa_upp), rel=1e-9)


def test_kappa_interval_stays_within_what_kappa_can_be() -> None:
    # 335 of 336 in agreement (the demo's two judges): the Wald upper bound passes 1 and is cut there.
    a = ["harmful"] * 150 + ["safe"] * 186
    b = ["harmful"] * 150 + ["safe"] * 185 + ["harmful"]
    result = cohens_kappa(a, b)
    assert result.kappa + 1.96 * result.se > 1
    assert result.high == 1.0 and result.low == pytest.approx(result.kappa - 1.959964 * result.se)


def test_kappa_is_nan_when_both_raters_use_one_identical_label() -> None:
    result = cohens_kappa(["safe"] * 5, ["safe"] * 5)
    assert math.isnan(result.kappa) and result.observed_agreement == result.expected_agreement == 1.0


def test_labels_used_by_one_rater_only_count_as_disagreement() -> None:
    # Agreement 1/3; only label 0 is shared, so expected agreement is 1/3 * 1/3 and kappa = (2/9) / (8/9).
    result = cohens_kappa([1, 1, 0], [2, 2, 0])
    assert (result.observed_agreement, result.expected_agreement) == pytest.approx((1 / 3, 1 / 9))
    assert result.kappa == pytest.approx(0.25)


def test_accuracy_with_wilson_interval() -> None:
    result = accuracy(["harmful", "safe", "unscored", "safe"], ["harmful", "safe", "safe", "harmful"])
    low, high = proportion_confint(2, 4, method="wilson")
    assert (result.accuracy, result.n_correct, result.n) == (0.5, 2, 4)
    assert (result.low, result.high) == pytest.approx((low, high))


@pytest.mark.parametrize("call", [lambda: cohens_kappa([1], [1, 2]), lambda: accuracy([], [])])
def test_rejects_unequal_or_empty_inputs(call: object) -> None:
    with pytest.raises(ValueError, match="non-empty and of equal length"):
        call()  # type: ignore[operator]
