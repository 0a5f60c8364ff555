"""Variance components of one condition's values: training seed, prompt, their interaction, sampling.

Model (two-way crossed random effects with replication): y = mu + seed + prompt + seed x prompt + e, where
y is one value in [0, 1] (a 0/1 verdict or a graded score) and e is sampling / re-evaluation noise within a
(seed, prompt) cell. Estimated by the method of moments on the ANOVA mean squares (Searle, Casella &
McCulloch 1992, ch. 4), which assumes nothing about y's distribution beyond finite variance: the expected
mean squares hold for scores as for verdicts. Each cell's sum, count and sum of squares are sufficient:
within-cell SS = sum_squares - sum^2 / count, which for verdicts (sum(y^2) = sum(y)) is
harmful - harmful^2 / scored.

Unbalanced cells are handled by the unweighted-means analysis (Searle et al. 1992, ch. 5): the seed,
prompt and interaction mean squares come from the table of cell means, the sampling mean square is the
pooled within-cell variance, and the cell size n in the expected mean squares is the harmonic mean of the
cells' counts. With equal cell sizes this is exactly the balanced ANOVA; with unequal sizes the expectations
still hold when the sampling variance is the same in every cell (for verdicts it is p (1 - p) and moves with
the cell's rate; for scores it moves with the cell's mean too). Prompts without a value under every seed are
dropped (counted in `n_prompts_dropped`), so the table of cell means is complete.

Intervals for the components, their shares and the seed ICC are generalized confidence intervals
(backend.stats.generalized; Weerahandi 1993; for variance components in crossed designs see Burdick, Borror
& Montgomery 2005, "Design and Analysis of Gauge R&R Studies", ch. 4): every mean square is replaced by a
chi-square pivot, every component, share and the ICC recomputed per draw, and the interval is the central
percentile range of the draws. A pivot is exact for normal y; the seed mean square's pivot has its nominal
S - 1 df. The prompt-level mean squares (prompt, interaction, sampling) are sums over prompts of
bounded, non-normal values (0/1 verdicts, or scores piled up at 0 or 1) whose variance depends on the
prompt, so their nominal df overstate how well they are known; each gets the df that matches its jackknife
variance over prompts (2 MS^2 / var, Satterthwaite's moment matching, never more than the nominal df). The
jackknife errs on the wide side (Efron & Stein 1981). Graded scores piled up near 0 or 1 (refusal-prefix
probabilities) have skewed, heavy-tailed prompt means: a sample of prompts that misses the tail has a small
mean square and a small jackknife variance at once, and the matched chi-square's upper bound fell short
(covering 0.88-0.91 on 48 prompts). Their prompt and interaction mean squares, on 10 to 1,000 prompts whose
means are all distinct, get a studentized bootstrap over prompts on the log scale instead
(`_bootstrap_t_pivots`); where prompt means pile up on one value (a grading judge's scores of 0) the
bootstrap's resamples collapse, and the chi-square stays (`_takes_bootstrap`). On the value scale the
prompt-level components move with the seeds drawn, so their intervals describe these seeds' evaluation
("given these checkpoints"); the seed component and the ICC speak of new seeds. With few seeds the seed
component's interval is wide: that is what three seeds can tell. With 0/1 values the seed means lie on a
lattice (one value flipped moves a seed's mean by 1 / (n_prompts * cell count)), and two seeds with equal
means happen far more often than the chi-square with 1 df allows: the seed component's and ICC's upper
bounds come from the seed mean square with the seed means' spread widened by half a lattice step (a
continuity correction), which took their coverage with 2 seeds from 0.90 to 0.95 or more. bench/coverage.py
measures how well each interval covers (for verdicts, capability rates and refusal-prefix scores;
`--measures`).
"""

import math
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from backend.stats._checks import check_count, check_open_unit
from backend.stats.cells import Cells
from backend.stats.generalized import pivot_draws

# A mean square at most this share of the largest one of its table is 0 computed in floating point.
_ROUNDING_ZERO = 1e-12

# Pivot draws per interval: the 2.5% quantile of 4000 draws moves by a few percent of the interval's width.
INTERVAL_DRAWS = 4000


@dataclass(frozen=True)
class Components:
    """Variances of one value by source (proportion^2 for verdicts, score^2 for scores); also the input of
    the power calculations.

    `sampling` is NaN when it cannot be separated from `seed_x_prompt` (one value per cell); then
    `seed_x_prompt` holds their sum.
    """

    seed: float
    prompt: float
    seed_x_prompt: float
    sampling: float

    @property
    def total(self) -> float:
        """Variance of one value: the sum of the components (NaN sampling counted as 0)."""
        return float(np.nansum([getattr(self, f.name) for f in fields(self)]))


@dataclass(frozen=True)
class MeanSquares:
    """The ANOVA table of one condition on the cell-mean scale (the usual mean squares divided by n).

    Expected values: E[seed] = seed_x_prompt + sampling / n + n_prompts * seed component;
    E[prompt] = seed_x_prompt + sampling / n + n_seeds * prompt component;
    E[interaction] = seed_x_prompt + sampling / n; E[sampling] = sampling component.
    """

    seed: float
    prompt: float
    interaction: float
    sampling: float  # NaN with one value per cell
    df_seed: int
    df_prompt: int
    df_interaction: int
    df_sampling: int  # 0 with one value per cell
    cell_size: float  # harmonic mean of values per cell
    n_seeds: int
    n_prompts: int
    n_prompts_dropped: int
    balanced: bool
    # The lattice step of a seed's mean for 0/1 values: one value flipped in the fullest cell moves it by
    # 1 / (n_prompts * largest count). 0 for graded scores.
    seed_mean_step: float = 0.0

    @property
    def seed_upper(self) -> float:
        """The seed mean square with the seed means' spread widened by half a lattice step (continuity
        correction): sqrt(SS) + step / 2 in place of sqrt(SS), SS = sum over seeds of (mean - grand)^2."""
        spread = math.sqrt(self.seed * self.df_seed / self.n_prompts) + self.seed_mean_step / 2
        return self.n_prompts * spread**2 / self.df_seed

    @property
    def interaction_confounded(self) -> bool:
        """True when every cell has one value: interaction and sampling noise are then confounded."""
        return self.df_sampling == 0


@dataclass(frozen=True)
class VarianceDecomposition:
    """Components, their shares of the total, generalized 95% intervals, and the design behind them."""

    components: Components
    shares: Components
    components_low: Components
    components_high: Components
    shares_low: Components
    shares_high: Components
    mean_squares: MeanSquares

    @property
    def icc_seed(self) -> float:
        """Intraclass correlation for training seed: the share of a value's variance due to the seed."""
        return self.shares.seed

    @property
    def interaction_confounded(self) -> bool:
        return self.mean_squares.interaction_confounded


class CellTables(NamedTuple):
    """A condition's cells as seeds x prompts tables (0 where a pair has no cell)."""

    seeds: np.ndarray  # row labels
    prompts: np.ndarray  # column labels
    harmful: np.ndarray  # sum of the values
    scored: np.ndarray  # count of the values
    sum_squares: np.ndarray


def cell_tables(cells: Cells) -> CellTables:
    """A condition's sums, counts and sums of squares as seeds x prompts tables."""
    seeds, seed_index = np.unique(cells.seed, return_inverse=True)
    prompts, prompt_index = np.unique(cells.prompt, return_inverse=True)
    harmful, scored, sum_squares = (np.zeros((len(seeds), len(prompts))) for _ in range(3))
    harmful[seed_index, prompt_index] = cells.harmful
    scored[seed_index, prompt_index] = cells.scored
    sum_squares[seed_index, prompt_index] = cells.sum_squares
    return CellTables(seeds, prompts, harmful, scored, sum_squares)


def _within_cell_ss(harmful: np.ndarray, scored: np.ndarray, sum_squares: np.ndarray) -> np.ndarray:
    """sum (y - cell mean)^2 per cell, from its sum, count and sum of squares (cells with values only).

    At least 0: float scores summed in another order may leave a constant cell a rounding error below it.
    """
    return np.maximum(0.0, sum_squares - harmful**2 / scored)


def _table_squares(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed (row), prompt (column) and interaction mean squares of complete seeds x prompts tables, over
    the last two axes (a stack of resampled tables at once)."""
    a, b = rate.shape[-2:]
    seed_means = rate.mean(axis=-1, keepdims=True)
    prompt_means = rate.mean(axis=-2, keepdims=True)
    grand = rate.mean(axis=(-2, -1), keepdims=True)
    residual = rate - seed_means - prompt_means + grand
    return (
        b * ((seed_means - grand) ** 2).sum(axis=(-2, -1)) / (a - 1),
        a * ((prompt_means - grand) ** 2).sum(axis=(-2, -1)) / (b - 1),
        (residual**2).sum(axis=(-2, -1)) / ((a - 1) * (b - 1)),
    )


def table_mean_squares(rate: np.ndarray) -> tuple[float, float, float]:
    """Seed (row), prompt (column) and interaction mean squares of a complete seeds x prompts table."""
    squares = tuple(float(x) for x in _table_squares(rate))
    # A zero left by rounding (every seed gives every prompt the same answer) is a zero: as 1e-34 its
    # jackknife df would collapse and its pivot's chi-square draws underflow to 0.
    largest = max(squares)
    seed, prompt, interaction = (0.0 if x <= _ROUNDING_ZERO * largest else x for x in squares)
    return seed, prompt, interaction


def mean_squares(cells: Cells) -> MeanSquares:
    """The unweighted-means ANOVA of a condition's complete table of cell means.

    Needs at least 2 seeds and 2 prompts with a value under every seed.
    """
    _, prompts, harmful, scored, sum_squares = cell_tables(cells)
    complete = (scored > 0).all(axis=0)
    harmful, scored, sum_squares = harmful[:, complete], scored[:, complete], sum_squares[:, complete]
    a, b = scored.shape
    if a < 2 or b < 2:
        raise ValueError(
            f"variance components need >= 2 seeds and >= 2 prompts scored under every seed; got {a} seeds "
            f"and {b} such prompts ({len(prompts) - b} prompts lack a scored value under some seed)"
        )
    seed, prompt, interaction = table_mean_squares(harmful / scored)
    df_sampling = int(scored.sum()) - a * b
    return MeanSquares(
        seed=seed,
        prompt=prompt,
        interaction=interaction,
        sampling=float(_within_cell_ss(harmful, scored, sum_squares).sum() / df_sampling)
        if df_sampling
        else math.nan,
        df_seed=a - 1,
        df_prompt=b - 1,
        df_interaction=(a - 1) * (b - 1),
        df_sampling=df_sampling,
        cell_size=float(a * b / (1 / scored).sum()),
        n_seeds=a,
        n_prompts=b,
        n_prompts_dropped=len(prompts) - b,
        balanced=bool((scored == scored[0, 0]).all()),
        seed_mean_step=1 / (b * float(scored.max())) if cells.binary else 0.0,
    )


def _solve(
    seed: ArrayLike,
    prompt: ArrayLike,
    interaction: ArrayLike,
    sampling: ArrayLike,
    cell_size: ArrayLike,
    shape: tuple[int, int],
) -> tuple[np.ndarray, ...]:
    """Components from (arrays of) mean squares; negative estimates truncated to 0, each on its own.

    Truncation follows common practice for ANOVA estimators (a negative estimate means "indistinguishable
    from 0"); each component is truncated on its own, so the others keep their unbiased values. NaN
    sampling (one value per cell) leaves the interaction holding interaction and sampling together.
    """
    n_seeds, n_prompts = shape
    seed, prompt, interaction, sampling = (
        np.asarray(x, dtype=float) for x in (seed, prompt, interaction, sampling)
    )
    # E[interaction] = var_sxp + var_sampling / n; with one value per cell the two cannot be split.
    seed_x_prompt = np.where(np.isnan(sampling), interaction, interaction - sampling / np.asarray(cell_size))
    return (
        np.maximum(0.0, (seed - interaction) / n_prompts),
        np.maximum(0.0, (prompt - interaction) / n_seeds),
        np.maximum(0.0, seed_x_prompt),
        sampling,
    )


def _table_leave_one_prompt_out(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, interaction) mean squares of complete seeds x prompts tables without prompt q, for every q
    (the last axis), over the last two axes.

    From running sums, so every prompt's omission costs O(seeds) rather than a new ANOVA.
    """
    a, b = rate.shape[-2:]
    prompt_means = rate.mean(axis=-2)
    rest = b - 1  # prompts left
    sum_means = prompt_means.sum(axis=-1, keepdims=True) - prompt_means
    sum_means_sq = (prompt_means**2).sum(axis=-1, keepdims=True) - prompt_means**2
    grand = sum_means / rest
    ss_prompt = a * (sum_means_sq - rest * grand**2)
    row_means = (rate.sum(axis=-1, keepdims=True) - rate) / rest  # seeds x left-out prompt
    ss_seed = rest * ((row_means - grand[..., None, :]) ** 2).sum(axis=-2)
    squares = rate**2
    ss_total = squares.sum(axis=(-2, -1))[..., None] - squares.sum(axis=-2) - a * rest * grand**2
    ss_interaction = ss_total - ss_seed - ss_prompt
    return ss_prompt / (rest - 1), ss_interaction / ((a - 1) * (rest - 1))


def _leave_one_prompt_out(
    harmful: np.ndarray, scored: np.ndarray, sum_squares: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prompt, interaction, sampling) mean squares of the table without prompt q, for every q.

    Without `sum_squares` the values are verdicts (sum_squares = harmful).
    """
    prompt, interaction = _table_leave_one_prompt_out(harmful / scored)
    within_ss = _within_cell_ss(harmful, scored, harmful if sum_squares is None else sum_squares).sum(axis=0)
    within_df = (scored - 1).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sampling = (within_ss.sum() - within_ss) / (within_df.sum() - within_df)
    return prompt, interaction, sampling


def _jackknife_variance(values: np.ndarray) -> float:
    """Tukey's jackknife variance of a statistic from its leave-one-out values."""
    n = values.size
    return float((n - 1) / n * ((values - values.mean()) ** 2).sum())


# Continuous scores on 10 to 1,000 prompts get their prompt-level pivots from a bootstrap over prompts
# (`_takes_bootstrap`): fewer give too few distinct resamples for its 2.5% quantile; with more, the matched
# chi-square covers as well (bench/variance_pivots.py) and the resamples cost seconds
# (bench/variance_bootstrap_cost.py).
BOOTSTRAP_PROMPTS = range(10, 1001)
# Resamples of the bootstrap (Efron & Tibshirani 1993 ask for 1,000 or more for a bootstrap-t interval); the
# pivot's draws are drawn from their studentized values.
BOOTSTRAP_RESAMPLES = 1000
# Values of resampled seeds x prompts tables held at once (32 MB of float64), whatever the table's size.
_RESAMPLED_VALUES_PER_BLOCK = 4_000_000


def _log_jackknife_se(leave_one_out: np.ndarray) -> np.ndarray:
    """Tukey's jackknife SE of a statistic's log, from its leave-one-out values (the last axis)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(leave_one_out)
        n = logs.shape[-1]
        return np.sqrt((n - 1) / n * ((logs - logs.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1))


def _takes_bootstrap(cells: Cells, rate: np.ndarray, ms: MeanSquares) -> bool:
    """Whether the prompt-level pivots come from the bootstrap over prompts: graded values whose prompt means
    are all distinct (continuous, as refusal-prefix probabilities are), on BOOTSTRAP_PROMPTS prompts, with
    both mean squares positive. Where prompt means pile up on one value (verdicts; a grading judge's scores
    of 0 on most prompts; capability near the ceiling), resamples that miss the few other prompts have a
    mean square and SE of 0, and the bootstrap covered far less than the chi-square (docs/statistics.md)."""
    if cells.binary or ms.n_prompts not in BOOTSTRAP_PROMPTS or not (ms.prompt > 0 and ms.interaction > 0):
        return False
    return bool(np.unique(rate.mean(axis=0)).size == ms.n_prompts)


def _bootstrap_t_pivots(
    rate: np.ndarray,
    observed: tuple[float, float],
    left_out: tuple[np.ndarray, np.ndarray],
    n_draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the expected prompt and interaction mean squares of a complete table of graded scores, both
    positive: a studentized bootstrap over prompts on the log scale (Efron & Tibshirani 1993, ch. 12).

    Each resample of prompts gives t = (log MS* - log MS) / SE*, SE* the jackknife SE of log MS* within the
    resample; a draw is exp(log MS - SE t), SE from the observed mean squares' leave-one-prompt-out values
    (`left_out`). Drawn from the same resamples, the two keep their dependence. A
    resample whose SE* is 0 gives a NaN draw, which the intervals' quantiles skip.
    """
    n_prompts = rate.shape[1]
    log_observed = np.log(np.array(observed))[:, None]
    observed_se = _log_jackknife_se(np.stack(left_out))[:, None]
    block = max(1, _RESAMPLED_VALUES_PER_BLOCK // rate.size)
    studentized = []
    for start in range(0, BOOTSTRAP_RESAMPLES, block):
        chosen = rng.integers(0, n_prompts, (min(block, BOOTSTRAP_RESAMPLES - start), n_prompts))
        resampled = np.moveaxis(rate[:, chosen], 0, 1)  # resamples x seeds x prompts
        _, prompt, interaction = _table_squares(resampled)
        se = _log_jackknife_se(np.stack(_table_leave_one_prompt_out(resampled)))
        with np.errstate(divide="ignore", invalid="ignore"):
            studentized.append((np.log(np.stack([prompt, interaction])) - log_observed) / se)
    t = np.concatenate(studentized, axis=1)[:, rng.integers(0, BOOTSTRAP_RESAMPLES, n_draws)]
    with np.errstate(over="ignore", invalid="ignore"):
        prompt_draws, interaction_draws = np.exp(log_observed - observed_se * t)
    return prompt_draws, interaction_draws


def variance_components(
    cells: Cells, confidence: float = 0.95, n_draws: int = INTERVAL_DRAWS, seed: int = 0
) -> VarianceDecomposition:
    """Method-of-moments variance components of one condition, with intervals.

    The draws come from numpy's default_rng(seed), so the same data give the same intervals.
    """
    confidence = check_open_unit(confidence, "confidence")
    n_draws = check_count(n_draws, "n_draws", minimum=100)
    ms = mean_squares(cells)
    shape = (ms.n_seeds, ms.n_prompts)
    estimate = Components(
        *(float(x) for x in _solve(ms.seed, ms.prompt, ms.interaction, ms.sampling, ms.cell_size, shape))
    )
    rng = np.random.default_rng(seed)
    tables = cell_tables(cells)
    complete = (tables.scored > 0).all(axis=0)
    harmful, scored = tables.harmful[:, complete], tables.scored[:, complete]
    # With two prompts a leave-one-out table has one: no variance to match, the nominal df stand.
    left_out = (
        _leave_one_prompt_out(harmful, scored, tables.sum_squares[:, complete]) if ms.n_prompts > 2 else None
    )

    def matched_pivot(observed: float, nominal_df: int, leave_one_out: np.ndarray | None) -> np.ndarray:
        """Chi-square pivot whose df matches the mean square's jackknife variance, at most its nominal df."""
        if math.isnan(observed):
            return np.full(n_draws, math.nan)
        spread = 0.0 if leave_one_out is None else _jackknife_variance(leave_one_out)
        df = nominal_df if spread == 0 else min(float(nominal_df), 2 * observed**2 / spread)
        return pivot_draws(observed, df, n_draws, rng) if df > 0 else np.full(n_draws, observed)

    seed_chi_square = rng.chisquare(ms.df_seed, n_draws)
    rate = harmful / scored
    if left_out is not None and _takes_bootstrap(cells, rate, ms):
        prompt_draws, interaction_draws = _bootstrap_t_pivots(
            rate, (ms.prompt, ms.interaction), (left_out[0], left_out[1]), n_draws, rng
        )
    else:
        prompt_draws = matched_pivot(ms.prompt, ms.df_prompt, None if left_out is None else left_out[0])
        interaction_draws = matched_pivot(
            ms.interaction, ms.df_interaction, None if left_out is None else left_out[1]
        )
    prompt_level = (
        prompt_draws,
        interaction_draws,
        matched_pivot(ms.sampling, ms.df_sampling, None if left_out is None else left_out[2]),
    )

    def component_and_share_draws(seed_mean_square: float) -> tuple[np.ndarray, np.ndarray]:
        draws = np.array(
            _solve(ms.df_seed * seed_mean_square / seed_chi_square, *prompt_level, ms.cell_size, shape)
        )
        totals = np.nansum(draws, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return draws, np.where(totals > 0, draws / totals, math.nan)

    draws, share_draws = component_and_share_draws(ms.seed)
    # The seed term's upper bounds come from the continuity-corrected seed mean square: with 0/1 values
    # and 2 seeds, equal seed means happen far more often than the chi-square with 1 df allows (its 2.5%
    # quantile asks for seed means closer than a tenth of their SD, finer than the lattice they lie on),
    # and an upper bound of 0 then missed a true seed component (bench/coverage.py, 2-seed scenarios).
    upper_draws, upper_share_draws = component_and_share_draws(ms.seed_upper)
    tail = (1 - confidence) / 2

    def quantiles(values: np.ndarray, q: float) -> Components:
        return Components(
            *(float(np.nanquantile(row, q)) if not np.isnan(row).all() else math.nan for row in values)
        )

    def upper(values: np.ndarray, seed_values: np.ndarray) -> Components:
        return replace(quantiles(values, 1 - tail), seed=quantiles(seed_values, 1 - tail).seed)

    total = estimate.total
    return VarianceDecomposition(
        components=estimate,
        shares=Components(
            *(getattr(estimate, f.name) / total if total > 0 else math.nan for f in fields(estimate))
        ),
        components_low=quantiles(draws, tail),
        components_high=upper(draws, upper_draws),
        shares_low=quantiles(share_draws, tail),
        shares_high=upper(share_draws, upper_share_draws),
        mean_squares=ms,
    )
