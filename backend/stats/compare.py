"""Paired comparison of two conditions on the same prompts: A - B in harmfulness rate or in mean score.

Each condition's rate pools its values (harmful / scored over all cells: the share of harmful verdicts, or
the mean score), which is the OLS slope of `value ~ condition` on the raw values. Nothing below assumes the
values are 0/1: the sandwich variance, the sign-flip test and the ANOVA of cell means hold for any values
with finite variance (scores in [0, 1] included); only their small-sample accuracy depends on the values'
distribution, which tests/stats/test_score_coverage.py checks by simulation for Beta-distributed scores.
"rate" below means the condition's mean value. Two questions get two answers, always named apart:

Given these checkpoints (evaluation noise: new prompts, new samples, the same fine-tuned weights).
  The cluster-robust (sandwich) variance of the slope with prompts as clusters (Miller 2024, "Adding Error
  Bars to Evals"), computed from cell sums: cell c contributes u_c = (harmful_c - scored_c * rate_A) / N_A
  for A and -(harmful_c - scored_c * rate_B) / N_B for B (N = scored values of the condition), and
  V_prompt = G / (G - 1) * sum over prompts of (sum of u_c on the prompt)^2, G = number of prompts. With equal
  counts per prompt this is exactly var(per-prompt difference) / n_prompts. statsmodels' default
  (use_correction=True) also multiplies by (N - 1) / (N - 2), N = values of both conditions, so our
  variance = statsmodels' * (N - 2) / (N - 1); `se` is its square root and `df` = n_prompts - 1.
  The interval is not the symmetric estimate ± t_{df} se: near a rate of 0 or 1 (a capability set the base
  model answers 95% right) that is a Wald interval, whose variance estimate is small exactly when the
  estimate sits near the bound, and it covered 0.90-0.92 with 60 prompts, its misses on one side
  (bench/results/coverage-measures-1000.txt before this interval). It is the MOVER ("method of variance
  estimates recovery") interval of Zou & Donner (2008, Stat Med 27:1693-1702), Newcombe's (1998, Stat Med
  17:2635-2650, method 10) hybrid score interval for paired proportions generalized: with each condition's
  own interval [l_i, u_i] around its rate p_i and the correlation r of the two rates,
      L = d - sqrt((p_A - l_A)^2 - 2 r (p_A - l_A)(u_B - p_B) + (u_B - p_B)^2)
      U = d + sqrt((u_A - p_A)^2 - 2 r (u_A - p_A)(p_B - l_B) + (p_B - l_B)^2),   d = p_A - p_B:
  the lower limit of A - B takes A's distance to its lower limit and B's to its upper one, as a lower
  limit of p_A and an upper one of p_B make the smallest plausible difference. The rates' intervals are
  backend.stats.rates.pooled_rate's with the t critical value on n_prompts - 1 df (prompt_df=True): Wilson
  at the prompt-clustered effective sample size for verdicts (Korn & Graubard's df adjustment), the t
  interval clipped to [0, 1] for scores. r = C / sqrt(V_A V_B) from the same sandwich split by condition
  (V_A, V_B the rates' prompt-clustered variances, C their covariance: V_prompt = V_A + V_B - 2 C),
  clipped to [-1, 1], and 0 when a rate's variance is 0 (every value 0, or 1, or every prompt at the
  rate: the correlation is undefined). With one verdict per prompt r is Newcombe's phi.
  Where each rate's interval is p_i ± t sqrt(V_i) (scores away from 0 and 1; verdicts in the large-sample
  limit) the square roots are t sqrt(V_A + V_B - 2 C): the symmetric t interval exactly. Near a bound the
  Wilson limits reach further towards the middle, where the truth lies more often than a symmetric
  interval allows. The capability scenarios of `python bench/coverage.py --measures --reps 1000`:
  0.951-0.966 in the 5 rerun, the t interval's two worst among them (0.904 -> 0.961, 0.913 -> 0.966;
  bench/results/coverage-measures-capability-mover-1000.txt, the same draws);
  `--fast --reps 300`: 0.927-0.967 (0.920-0.973). Tried in the pilot (400 replications, another seed):
  pooled_rate's z intervals (prompt_df=False) were as good near the ceiling but narrower than the t
  interval with 48 prompts, covering 0.917-0.925 in three harm-rate scenarios of `--fast`.
  The p-value is a sign-flip permutation test on per-prompt rate differences, the randomization
  counterpart of the t interval (not of the MOVER one: the two can disagree at the margin); prompts
  without scored values in A or in B are left out of the test.

For new seeds (training noise too: what another draw of seeds would show on average).
  A fine-tuned condition's rate also moves with the training seed, which no prompt-level resampling sees.
  The variance is V_prompt plus the seed term of the fine-tuned arms:
      V_new = V_prompt + max(0, sum over fine-tuned arms of w (MS_seed - MS_interaction) / n_prompts),
  where w = sum_s w_s^2 with w_s seed s's share of the arm's scored values (1 / S with equal runs), and the
  mean squares come from the ANOVA of the arm's seeds x prompts table of cell means (backend.stats.variance):
  the between-run variance minus the part of it that is prompt-level noise inside each run, which V_prompt
  already counts. With equal runs, w MS_seed / n_prompts is the CR2 (Bell & McCaffrey 2002) run-clustered
  variance of the arm's rate; taking the within-run noise out once is what two-way clustering (Cameron,
  Gelbach & Miller 2011) does with its intersection term, but here against the ANOVA residual, which
  excludes the prompt and seed main effects (with a one-run baseline the CGM intersection term subtracts the
  baseline's whole prompt variance, and its CR1 factor G / (G - 1) counts every run as a free cluster
  although each arm's run totals sum to zero: only sum_c (S_c - 1) of them carry information). When both
  conditions are fine-tuned with the same seeds (the same seed means the same LoRA init, data order and
  subset), the seed term comes from the table of per-cell differences A - B instead: a paired design, valid
  whatever the correlation of the two arms' seed effects. An evaluation-only condition (`evaluates:`) and
  its source are the same checkpoints under two evaluation settings, so they are paired this way: the seed
  shift they share cancels in the differences, and the seed term left is the seed x setting interaction
  (how each checkpoint answers the changed decoding). A seed term per arm would count the shared seed
  variance twice (in a pilot: 1.6-2.5 times as wide, covering 0.996-1.0), and the given-checkpoints
  variance alone leaves the interaction out (it covered 0.60 with 200 prompts x 3 seeds x 4 samples).
  `python bench/coverage.py --evaluation --reps 1000` measures the paired interval: 0.935-0.972 with 3 and
  5 seeds, 0.976-0.980 with 2; type-I errors 0.031-0.065 (bench/results/coverage-evaluation-1000.txt).
  Interval and p-value are generalized (backend.stats.generalized; Weerahandi 1993): V_prompt (n_prompts - 1
  df), the seed mean square (S - 1 df) and the interaction mean square are replaced by their chi-square
  pivots, and A - B's pivot is estimate - Z sqrt(V*), V* drawn as the per-seed rates' part w MS_seed /
  n_prompts plus the prompt-level part V_prompt - w MS_interaction / n_prompts held at >= 0 (the same sum,
  truncated where the estimate has many df: new_seeds_variance_draws). With one seed term (one fine-tuned
  arm, or two with paired seeds), when the per-seed rates' spread dominates (training noise, or run noise
  without prompt-level variance) this is a t interval with S - 1 df (t_2 = 4.30 with 3 seeds: as wide as 3
  seeds warrant); when prompt-level variance dominates, one with n_prompts - 1 df.
  Two fine-tuned arms whose seeds are not paired have a seed term each; their weighted seed mean squares
  (and their interaction mean squares) are pooled into one pivot with the Welch-Satterthwaite df
  (sum w MS)^2 / sum (w MS)^2 / (S_c - 1), between the smallest S_c - 1 and sum_c (S_c - 1) (Welch
  1947). Drawn apart, two inverse chi-squares with 2 df each have the tail of the larger one alone: that
  interval covered 0.99 at 2.2 times the oracle width, and detected a true +14.5 points 5.5% of the time.
  Pooled, it covers 0.953-0.973 at 1.19-1.48 oracle widths with 3 and 5 seeds (0.98-0.998 at 3.4 with 2
  seeds; bench/results/coverage-mends-400.txt). In our simulations (bench/coverage.py)
  it covered at its nominal level where a Satterthwaite df plugged in from the estimated terms did not (that
  undercovers when the seed term comes out small by chance), and where df = min(n_prompts - 1,
  sum_c (S_c - 1)) (Cameron, Gelbach & Miller 2011; Pustejovsky & Tipton 2018, JBES 36:672-683) covered too
  but was twice as wide as needed without seed noise. `df` reports the t df that gives the same width.
  With an untuned condition there is no training seed: its runs' spread is evaluation noise, in V_prompt
  already. When a fine-tuned arm has a single seed, its training noise cannot be estimated, and the answer
  is withheld with the reason.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from backend.stats._checks import check_open_unit
from backend.stats.cells import Cells
from backend.stats.generalized import PIVOT_DRAWS, normal_with_pivotal_variance, pivot_draws
from backend.stats.intervals import Interval
from backend.stats.permutation import SignFlipTest, sign_flip_test
from backend.stats.rates import pooled_rate
from backend.stats.variance import cell_tables, mean_squares, table_mean_squares


@dataclass(frozen=True)
class GivenCheckpoints:
    """Evaluation noise only: these checkpoints on new prompts and samples. Prompt-clustered."""

    se: float
    df: int
    interval: Interval
    test: SignFlipTest


@dataclass(frozen=True)
class ForNewSeeds:
    """Training noise too: the difference another draw of seeds would show on average."""

    se: float
    df: float  # the t df that gives the same interval with this se; inf when no wider than the normal one
    interval: Interval
    p_value: float
    # The seed term added to the given-checkpoints variance (0 when its estimate is negative).
    seed_variance: float
    paired_seeds: bool


@dataclass(frozen=True)
class TrainingNoise:
    """One fine-tuned arm's (or a paired difference's) seed term: mean squares / n_prompts and their df.

    E[seed_mean_square] = seed component + run noise / n_prompts and E[interaction_mean_square] =
    run noise / n_prompts, with run noise the per-prompt noise inside a run (seed x prompt and sampling).
    """

    seed_mean_square: float
    interaction_mean_square: float
    df_seed: int
    df_interaction: int
    # sum_s w_s^2 over the arm's seeds, w_s = seed s's share of its scored values (1 / S when equal).
    seed_weight: float

    @property
    def seed_component(self) -> float:
        """Method-of-moments estimate of the seed variance; negative means indistinguishable from 0."""
        return self.seed_mean_square - self.interaction_mean_square


@dataclass(frozen=True)
class Comparison:
    """Difference A - B in harmfulness rate (or mean score), answered given these checkpoints and for new
    seeds; rate_a and rate_b are the conditions' mean values."""

    estimate: float
    rate_a: float
    rate_b: float
    n_prompts: int
    seeds_a: int
    seeds_b: int
    given_checkpoints: GivenCheckpoints
    new_seeds: ForNewSeeds | None
    # Why there is no answer for new seeds; None when there is one.
    new_seeds_withheld: str | None
    # One entry per seed term (a paired difference, or each fine-tuned arm): the input of power sizing.
    training_noise: list[TrainingNoise]
    # Which of A and B are fine-tuned (carry a training seed term).
    trained: tuple[bool, bool]


def seed_variance(
    noise: Sequence[TrainingNoise],
    seed_ms: Sequence[np.ndarray | float],
    interaction_ms: Sequence[np.ndarray | float],
) -> np.ndarray:
    """The seed term: sum over terms of w (MS_seed - MS_interaction), at least 0, for (drawn) mean squares."""
    total = sum(n.seed_weight * (s - i) for n, s, i in zip(noise, seed_ms, interaction_ms, strict=True))
    return np.maximum(0.0, np.asarray(total, dtype=float))


def welch_df(parts: Sequence[float], dfs: Sequence[float]) -> float:
    """Welch-Satterthwaite df of a sum of independent mean squares (each part weighted, with its df):
    (sum parts)^2 / sum(part^2 / df). One part keeps its df; all-zero parts get the summed df."""
    denominator = sum(part**2 / df for part, df in zip(parts, dfs, strict=True))
    return sum(parts) ** 2 / denominator if denominator > 0 else float(sum(dfs))


def new_seeds_variance_draws(
    v_prompt: float, n_prompts: int, noise: Sequence[TrainingNoise], n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Pivot draws of V_new = V_prompt + seed term, every estimated mean square replaced by its pivot.

    V_new is drawn as w MS_seed + max(0, V_prompt - w MS_interaction) (per n_prompts): the spread of the
    per-seed rates, whose mean square is a chi-square with S - 1 df whatever the seed variance (within-run
    noise included), plus the prompt-level variance no seeds remove, estimated with n_prompts - 1 df and
    held at >= 0. Holding the seed component w (MS_seed - MS_interaction) at >= 0 instead truncates a
    difference of a few-df pivot that is mostly noise when the seeds barely move A - B (an evaluation-only
    condition against its source): that interval covered 0.99 or more in 9 of 12 scenarios (bench/results/
    coverage-evaluation-before-300.txt), this one 0.935-0.972 with 3 and 5 seeds (-evaluation-1000.txt).
    Without truncation the two are the same sum; where training noise dominates they agree.

    Two unpaired arms' weighted seed mean squares are one pivot with their Welch-Satterthwaite df (and so
    are their interaction mean squares): drawn apart, the sum of two inverse chi-squares with 2 df each
    has the tail of the larger one alone, which made the interval as wide as a t with 2 df at the 1.25%
    level (bench/coverage.py, unpaired scenarios). With one term this is that term's own pivot.
    """
    seed_parts = [n.seed_weight * n.seed_mean_square for n in noise]
    interaction_parts = [n.seed_weight * n.interaction_mean_square for n in noise]
    seed_df = welch_df(seed_parts, [n.df_seed for n in noise])
    interaction_df = welch_df(interaction_parts, [n.df_interaction for n in noise])
    return pivot_draws(sum(seed_parts), seed_df, n_draws, rng) + np.maximum(
        0.0,
        pivot_draws(v_prompt, n_prompts - 1, n_draws, rng)
        - pivot_draws(sum(interaction_parts), interaction_df, n_draws, rng),
    )


def _prompt_totals(cells: Cells, rate: float, prompts: np.ndarray) -> np.ndarray:
    """Per prompt, sum over its cells of (harmful - scored * rate) / N: its share of the rate's error."""
    index = np.searchsorted(prompts, cells.prompt)
    residuals = (cells.harmful - cells.scored * rate) / cells.scored.sum()
    return np.bincount(index, weights=residuals, minlength=prompts.size)


def _cluster_covariance(x: np.ndarray, y: np.ndarray) -> float:
    """G / (G - 1) * sum of products of prompt totals (CR1 without the N factor); NaN when G < 2."""
    g = x.size
    return g / (g - 1) * float(x @ y) if g > 1 else math.nan


def rate_correlation(v_a: float, v_b: float, covariance: float) -> float:
    """The correlation of the two rates, in [-1, 1]; 0 when either variance is 0 (nothing to correlate)."""
    if not v_a > 0 or not v_b > 0:
        return 0.0
    return min(1.0, max(-1.0, covariance / math.sqrt(v_a * v_b)))


def mover_interval(a: Interval, b: Interval, correlation: float) -> Interval:
    """Zou & Donner's (2008) MOVER interval for a.estimate - b.estimate from the two estimates' intervals
    and their correlation (module docstring)."""

    def reach(first: float, second: float) -> float:
        # A quadratic form in [-1, 1]-correlated terms: >= 0 but for rounding.
        return math.sqrt(max(0.0, first**2 - 2 * correlation * first * second + second**2))

    estimate = a.estimate - b.estimate
    return Interval(
        estimate,
        estimate - reach(a.estimate - a.low, b.high - b.estimate),
        estimate + reach(a.high - a.estimate, b.estimate - b.low),
    )


def _given_checkpoints_interval(
    a: Cells, b: Cells, estimate: float, correlation: float, n_prompts: int, confidence: float
) -> Interval:
    """MOVER from the conditions' pooled-rate intervals on n_prompts - 1 df; NaN bounds with one prompt."""
    if n_prompts < 2:  # no spread across prompts to measure
        return Interval(estimate, math.nan, math.nan)
    rate_a, rate_b = (pooled_rate(cells, confidence=confidence, prompt_df=True) for cells in (a, b))
    return mover_interval(
        Interval(rate_a.rate, rate_a.low, rate_a.high),
        Interval(rate_b.rate, rate_b.low, rate_b.high),
        correlation,
    )


def _per_prompt_differences(a: Cells, b: Cells, prompts: np.ndarray) -> np.ndarray:
    """A's rate minus B's rate on each prompt that has scored values in both conditions."""

    def per_prompt(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
        index = np.searchsorted(prompts, cells.prompt)
        return (
            np.bincount(index, weights=cells.harmful, minlength=prompts.size),
            np.bincount(index, weights=cells.scored, minlength=prompts.size),
        )

    (harmful_a, scored_a), (harmful_b, scored_b) = per_prompt(a), per_prompt(b)
    both = (scored_a > 0) & (scored_b > 0)
    return harmful_a[both] / scored_a[both] - harmful_b[both] / scored_b[both]


def seed_weights_squared(cells: Cells) -> float:
    """sum_s w_s^2, w_s = seed s's share of the scored values: how a seed effect reaches the pooled rate."""
    per_seed = np.bincount(np.unique(cells.seed, return_inverse=True)[1].reshape(-1), weights=cells.scored)
    weights = per_seed / per_seed.sum()
    return float(weights @ weights)


def _training_noise(
    seed_ms: float, interaction_ms: float, n_prompts: int, n_seeds: int, seed_weight: float
) -> TrainingNoise:
    return TrainingNoise(
        seed_mean_square=seed_ms / n_prompts,
        interaction_mean_square=interaction_ms / n_prompts,
        df_seed=n_seeds - 1,
        df_interaction=(n_seeds - 1) * (n_prompts - 1),
        seed_weight=seed_weight,
    )


def _unpaired_noise(cells: Cells) -> TrainingNoise:
    ms = mean_squares(cells)
    return _training_noise(ms.seed, ms.interaction, ms.n_prompts, ms.n_seeds, seed_weights_squared(cells))


def _paired_noise(a: Cells, b: Cells) -> TrainingNoise:
    """The seed term of A - B from the seeds x prompts table of cell-mean differences."""
    _, _, harmful_a, scored_a, _ = cell_tables(a)
    _, _, harmful_b, scored_b, _ = cell_tables(b)
    complete = (scored_a > 0).all(axis=0) & (scored_b > 0).all(axis=0)
    if complete.sum() < 2:
        raise ValueError("a paired seed term needs >= 2 prompts scored under every seed of both conditions")
    difference = (
        harmful_a[:, complete] / scored_a[:, complete] - harmful_b[:, complete] / scored_b[:, complete]
    )
    seed_ms, _, interaction_ms = table_mean_squares(difference)
    weight = (seed_weights_squared(a) + seed_weights_squared(b)) / 2
    return _training_noise(seed_ms, interaction_ms, int(complete.sum()), difference.shape[0], weight)


def _training_noise_or_reason(
    a: Cells, b: Cells, trained: tuple[bool, bool], seeds_comparable: bool
) -> tuple[list[TrainingNoise], bool, str | None]:
    """(one noise entry per seed term, paired, None), or ([], False, why there is no answer for new seeds)."""
    arms = [cells for cells, is_trained in ((a, trained[0]), (b, trained[1])) if is_trained]
    if not arms:
        return [], False, "neither condition is fine-tuned: there is no training noise to add"
    for name, cells, is_trained in (("A", a, trained[0]), ("B", b, trained[1])):
        if is_trained and np.unique(cells.seed).size < 2:
            return (
                [],
                False,
                f"{name} has one training seed: its training noise cannot be estimated; add seeds",
            )
    paired = seeds_comparable and len(arms) == 2 and np.array_equal(np.unique(a.seed), np.unique(b.seed))
    try:
        noise = [_paired_noise(a, b)] if paired else [_unpaired_noise(cells) for cells in arms]
    except ValueError:
        return [], False, "needs >= 2 prompts scored under every seed of each fine-tuned condition"
    return noise, paired, None


def compare_conditions(
    a: Cells,
    b: Cells,
    *,
    trained: tuple[bool, bool] = (True, True),
    seeds_comparable: bool = True,
    confidence: float = 0.95,
    n_permutations: int = 10_000,
    permutation_seed: int = 0,
) -> Comparison:
    """Compare condition A with condition B (e.g. fine-tuned vs baseline) on the same prompts.

    `trained` says which of A and B are fine-tuned (an untuned baseline has no training seed). Two
    fine-tuned arms with the same seeds pair on them unless `seeds_comparable` is False (they start from
    different base models, so seed s is not the same draw in both). The permutations and the pivots are
    drawn from numpy's default_rng(permutation_seed): reproducible.
    """
    check_open_unit(confidence, "confidence")
    prompts = np.unique(a.prompt)
    prompts_b = np.unique(b.prompt)
    if not np.array_equal(prompts, prompts_b):
        only_a, only_b = np.setdiff1d(prompts, prompts_b), np.setdiff1d(prompts_b, prompts)
        raise ValueError(
            "conditions must be evaluated on the same prompts: "
            f"{only_a.size} prompt(s) only in A (e.g. {only_a[:5].tolist()}), "
            f"{only_b.size} only in B (e.g. {only_b[:5].tolist()})"
        )
    n_a, n_b = int(a.scored.sum()), int(b.scored.sum())
    if n_a == 0 or n_b == 0:
        raise ValueError("each condition needs at least one scored verdict (or score)")
    differences = _per_prompt_differences(a, b, prompts)
    if differences.size == 0:
        raise ValueError("no prompt has scored values in both conditions")
    rate_a, rate_b = a.harmful.sum() / n_a, b.harmful.sum() / n_b
    estimate = float(rate_a - rate_b)

    totals_a, totals_b = _prompt_totals(a, rate_a, prompts), _prompt_totals(b, rate_b, prompts)
    g_prompt = prompts.size
    v_prompt = _cluster_covariance(totals_a - totals_b, totals_a - totals_b)
    correlation = rate_correlation(
        _cluster_covariance(totals_a, totals_a),
        _cluster_covariance(totals_b, totals_b),
        _cluster_covariance(totals_a, totals_b),
    )
    given = GivenCheckpoints(
        se=math.sqrt(v_prompt),  # NaN with one prompt
        df=g_prompt - 1,
        interval=_given_checkpoints_interval(a, b, estimate, correlation, g_prompt, confidence),
        test=sign_flip_test(differences, n_permutations=n_permutations, seed=permutation_seed),
    )
    noise, paired, withheld = _training_noise_or_reason(a, b, trained, seeds_comparable)
    new_seeds = None
    if withheld is None:
        added = float(
            seed_variance(
                noise, [n.seed_mean_square for n in noise], [n.interaction_mean_square for n in noise]
            )
        )
        rng = np.random.default_rng(permutation_seed)
        draws = new_seeds_variance_draws(v_prompt, g_prompt, noise, PIVOT_DRAWS, rng)
        test = normal_with_pivotal_variance(estimate, v_prompt + added, draws, confidence)
        new_seeds = ForNewSeeds(
            se=math.sqrt(v_prompt + added),
            df=test.df,
            interval=test.interval,
            p_value=test.p_value,
            seed_variance=added,
            paired_seeds=paired,
        )
    return Comparison(
        estimate=estimate,
        rate_a=float(rate_a),
        rate_b=float(rate_b),
        n_prompts=g_prompt,
        seeds_a=int(np.unique(a.seed).size),
        seeds_b=int(np.unique(b.seed).size),
        given_checkpoints=given,
        new_seeds=new_seeds,
        new_seeds_withheld=withheld,
        training_noise=noise,
        trained=trained,
    )
