"""The judges' share of one condition's verdict variance: judge as a factor beside seed and prompt.

Input: one condition's verdict counts per (training seed, prompt) cell under each of J >= 2 judges that all
judged the same generations. The unit of analysis is a cell rate: the share of harmful verdicts one judge gave
one seed's responses to one prompt. The J x seeds x prompts table of cell rates is analysed as a balanced
three-way crossed random-effects design without replication (Searle, Casella & McCulloch 1992, "Variance
Components", ch. 4; the expected mean squares are the usual ones for the all-random three-way model):

    rate = mu + judge + seed + prompt + judge x seed + judge x prompt + seed x prompt + residual.

The components are variances of cell rates (proportion^2), not of single verdicts, and are read as follows:

- judge: one judge calls more responses harmful than another, across the board (a stricter threshold).
- judge_x_seed: the judges rank the checkpoints differently (one judge is harsher on one seed's outputs).
- judge_x_prompt: the judges disagree about particular prompts or harm categories, the same way under
  every seed.
- residual (judge x seed x prompt): the judges disagree about particular responses, the disagreement that
  is left once the systematic parts are removed. With one response per cell this is the per-response
  disagreement; a judge that answers differently when asked twice (an LLM judge sampled at a temperature)
  adds its own re-evaluation noise here too.
- seed, prompt, seed_x_prompt: what every judge agrees on. The generations are shared by the judges, so
  sampling noise (which response the model happened to give) is part of seed_x_prompt, not of a judge term.

`judge_share` = (judge + judge_x_seed + judge_x_prompt + residual) / total is the share of the cell-rate
variance that is the judges disagreeing; 0 when the judges agree on every cell.

Estimated by the method of moments on the ANOVA mean squares, each component truncated at 0 on its own.
Intervals are generalized confidence intervals (backend.stats.generalized; Weerahandi 1993; Burdick, Borror
& Montgomery 2005, ch. 4): every mean square is replaced by its chi-square pivot with its nominal df, the
components, shares and judge_share recomputed per draw, and the interval is the central percentile range.
The judge mean square has J - 1 df: with two judges, one, so the judge component's interval is wide (as wide
as two judges warrant). Unlike backend.stats.variance, the df are nominal, not matched to the jackknife
spread over prompts: with binary verdicts and few responses per cell the prompt-level intervals can be
narrower than their nominal level. Cells whose scored counts differ (unscored verdicts) make some cell rates
noisier than others; the analysis weighs every cell rate alike (the unweighted-means analysis).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import reduce

import numpy as np
from numpy.typing import ArrayLike

from backend.stats._checks import check_count, check_open_unit
from backend.stats.cells import Cells
from backend.stats.generalized import PIVOT_DRAWS, pivot_draws
from backend.stats.intervals import Interval
from backend.stats.variance import table_mean_squares


@dataclass(frozen=True, eq=False)
class JudgeTable:
    """Cell rates harmful / scored, shape (judges, seeds, prompts), complete: every cell has a scored verdict.

    `seeds` and `prompts` are the kept ids, in the order of the table's axes; judges keep the order given.
    `n_prompts_dropped` counts the prompts left out because some judge scored nothing in some kept seed.
    """

    rates: np.ndarray
    seeds: np.ndarray
    prompts: np.ndarray
    n_prompts_dropped: int = 0

    def __post_init__(self) -> None:
        rates = np.array(self.rates, dtype=float)
        if rates.ndim != 3 or min(rates.shape) < 2:
            raise ValueError(
                f"a judge table needs >= 2 judges, >= 2 seeds and >= 2 prompts, got shape {rates.shape}"
            )
        if not np.isfinite(rates).all():
            raise ValueError("a judge table's cell rates must be finite")
        if rates.shape[1:] != (len(self.seeds), len(self.prompts)):
            raise ValueError(
                f"rates of shape {rates.shape} do not match {len(self.seeds)} seeds and "
                f"{len(self.prompts)} prompts"
            )
        rates.setflags(write=False)
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "seeds", np.asarray(self.seeds))
        object.__setattr__(self, "prompts", np.asarray(self.prompts))


def judge_table(cells_by_judge: Sequence[Cells]) -> JudgeTable:
    """One condition's cells under each judge as a complete judges x seeds x prompts table of cell rates.

    Keeps the seeds with a scored verdict under every judge and, of those, the prompts scored (scored > 0)
    in every kept seed under every judge. Raises ValueError when fewer than 2 judges, 2 seeds or 2 prompts
    remain.
    """
    n_judges = len(cells_by_judge)
    if n_judges < 2:
        raise ValueError(f"the judge's share of the variance needs >= 2 judges, got {n_judges}")
    seeds = reduce(np.intersect1d, (np.unique(c.seed[c.scored > 0]) for c in cells_by_judge))
    prompts = reduce(np.union1d, (c.prompt for c in cells_by_judge))
    harmful = np.zeros((n_judges, len(seeds), len(prompts)))
    scored = np.zeros_like(harmful)
    for judge, cells in enumerate(cells_by_judge):
        keep = np.isin(cells.seed, seeds)
        seed_index = np.searchsorted(seeds, cells.seed[keep])
        prompt_index = np.searchsorted(prompts, cells.prompt[keep])
        harmful[judge, seed_index, prompt_index] = cells.harmful[keep]
        scored[judge, seed_index, prompt_index] = cells.scored[keep]
    complete = (scored > 0).all(axis=(0, 1))
    n_complete = int(complete.sum())
    if len(seeds) < 2 or n_complete < 2:
        raise ValueError(
            f"the judge's share of the variance needs >= 2 seeds scored under every judge and >= 2 prompts "
            f"scored in every such seed under every judge; got {len(seeds)} seeds and {n_complete} prompts "
            f"({len(prompts) - n_complete} prompts lack a scored verdict under some judge and seed)"
        )
    return JudgeTable(
        rates=harmful[:, :, complete] / scored[:, :, complete],
        seeds=seeds,
        prompts=prompts[complete],
        n_prompts_dropped=len(prompts) - n_complete,
    )


@dataclass(frozen=True)
class JudgeComponents:
    """Variances of cell rates (proportion^2) by source; the module docstring says what each term means."""

    seed: float
    prompt: float
    seed_x_prompt: float
    judge: float
    judge_x_seed: float
    judge_x_prompt: float
    residual: float  # judge x seed x prompt: the judges disagreeing on particular responses

    @property
    def total(self) -> float:
        """Variance of one cell rate: the sum of the components."""
        return float(sum(getattr(self, f.name) for f in fields(self)))


# The components that are the judges disagreeing: the numerator of judge_share.
JUDGE_TERMS = ("judge", "judge_x_seed", "judge_x_prompt", "residual")


@dataclass(frozen=True)
class JudgeMeanSquares:
    """The three-way ANOVA table of the cell rates: one mean square per source, with its df.

    Expected values, with e the residual component and n_judges, n_seeds, n_prompts = J, S, P:
    E[judge] = e + P judge_x_seed + S judge_x_prompt + S P judge;
    E[seed] = e + P judge_x_seed + J seed_x_prompt + J P seed;
    E[prompt] = e + S judge_x_prompt + J seed_x_prompt + J S prompt;
    E[judge_x_seed] = e + P judge_x_seed; E[judge_x_prompt] = e + S judge_x_prompt;
    E[seed_x_prompt] = e + J seed_x_prompt; E[residual] = e.
    """

    seed: float
    prompt: float
    seed_x_prompt: float
    judge: float
    judge_x_seed: float
    judge_x_prompt: float
    residual: float
    n_judges: int
    n_seeds: int
    n_prompts: int

    def df(self, source: str) -> int:
        """Degrees of freedom of one source's mean square: the product of (levels - 1) of its factors."""
        levels = {"judge": self.n_judges, "seed": self.n_seeds, "prompt": self.n_prompts}
        factors = levels if source == "residual" else source.split("_x_")
        return math.prod(levels[factor] - 1 for factor in factors)


def judge_mean_squares(table: JudgeTable) -> JudgeMeanSquares:
    """The mean squares of a complete judges x seeds x prompts table of cell rates.

    Every two-way margin (the table averaged over one factor) is a two-way table whose row, column and
    interaction mean squares, times the number of levels averaged over, are the three-way ones.
    """
    rates = table.rates
    n_judges, n_seeds, n_prompts = rates.shape
    seed, prompt, seed_x_prompt = (n_judges * ms for ms in table_mean_squares(rates.mean(axis=0)))
    judge, _, judge_x_seed = (n_prompts * ms for ms in table_mean_squares(rates.mean(axis=2)))
    _, _, judge_x_prompt = (n_seeds * ms for ms in table_mean_squares(rates.mean(axis=1)))
    # The residual directly (not the total minus the rest), so agreeing judges give exactly 0.
    residual = (
        rates
        - rates.mean(axis=2, keepdims=True)
        - rates.mean(axis=1, keepdims=True)
        - rates.mean(axis=0, keepdims=True)
        + rates.mean(axis=(1, 2), keepdims=True)
        + rates.mean(axis=(0, 2), keepdims=True)
        + rates.mean(axis=(0, 1), keepdims=True)
        - rates.mean()
    )
    return JudgeMeanSquares(
        seed=seed,
        prompt=prompt,
        seed_x_prompt=seed_x_prompt,
        judge=judge,
        judge_x_seed=judge_x_seed,
        judge_x_prompt=judge_x_prompt,
        residual=float((residual**2).sum() / ((n_judges - 1) * (n_seeds - 1) * (n_prompts - 1))),
        n_judges=n_judges,
        n_seeds=n_seeds,
        n_prompts=n_prompts,
    )


def _moment_estimates(
    mean_squares: Mapping[str, ArrayLike], shape: tuple[int, int, int]
) -> dict[str, np.ndarray]:
    """Unbiased (untruncated, possibly negative) components from (arrays of) mean squares, keyed by source."""
    n_judges, n_seeds, n_prompts = shape
    ms = {source: np.asarray(value, dtype=float) for source, value in mean_squares.items()}
    e = ms["residual"]
    return {
        "seed": (ms["seed"] - ms["judge_x_seed"] - ms["seed_x_prompt"] + e) / (n_judges * n_prompts),
        "prompt": (ms["prompt"] - ms["judge_x_prompt"] - ms["seed_x_prompt"] + e) / (n_judges * n_seeds),
        "seed_x_prompt": (ms["seed_x_prompt"] - e) / n_judges,
        "judge": (ms["judge"] - ms["judge_x_seed"] - ms["judge_x_prompt"] + e) / (n_seeds * n_prompts),
        "judge_x_seed": (ms["judge_x_seed"] - e) / n_prompts,
        "judge_x_prompt": (ms["judge_x_prompt"] - e) / n_seeds,
        "residual": e,
    }


@dataclass(frozen=True)
class JudgeDecomposition:
    """Components of the cell-rate variance, their shares of the total, and generalized 95% intervals.

    Shares and judge_share are NaN when the total is 0 (every cell rate the same).
    """

    components: JudgeComponents
    components_low: JudgeComponents
    components_high: JudgeComponents
    shares: JudgeComponents
    shares_low: JudgeComponents
    shares_high: JudgeComponents
    # The share of the cell-rate variance that is the judges disagreeing (the JUDGE_TERMS over the total).
    judge_share: Interval
    mean_squares: JudgeMeanSquares

    @property
    def n_judges(self) -> int:
        return self.mean_squares.n_judges

    @property
    def n_seeds(self) -> int:
        return self.mean_squares.n_seeds

    @property
    def n_prompts(self) -> int:
        return self.mean_squares.n_prompts


def judge_variance_components(
    table: JudgeTable, confidence: float = 0.95, n_draws: int = PIVOT_DRAWS, seed: int = 0
) -> JudgeDecomposition:
    """Method-of-moments components of a judges x seeds x prompts table (see `judge_table`), with intervals.

    The draws come from numpy's default_rng(seed), so the same table gives the same intervals.
    """
    confidence = check_open_unit(confidence, "confidence")
    n_draws = check_count(n_draws, "n_draws", minimum=100)
    ms = judge_mean_squares(table)
    names = [f.name for f in fields(JudgeComponents)]
    shape = (ms.n_judges, ms.n_seeds, ms.n_prompts)
    rng = np.random.default_rng(seed)
    observed = {name: getattr(ms, name) for name in names}
    pivots = {name: pivot_draws(value, ms.df(name), n_draws, rng) for name, value in observed.items()}
    # Entry 0 of each array is the estimate, the rest are its pivot draws: one computation serves both.
    components = {
        name: np.maximum(0.0, np.concatenate((np.atleast_1d(estimate), draws)))
        for (name, estimate), draws in zip(
            _moment_estimates(observed, shape).items(),
            _moment_estimates(pivots, shape).values(),
            strict=True,
        )
    }
    total = np.sum(list(components.values()), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {name: np.where(total > 0, value / total, math.nan) for name, value in components.items()}
    judge_shares = np.sum([shares[name] for name in JUDGE_TERMS], axis=0)
    tail = (1 - confidence) / 2

    def quantile(values: np.ndarray, q: float) -> float:
        """The q-quantile of the pivot draws (entry 0, the estimate, left out); NaN draws ignored."""
        draws = values[1:]
        return math.nan if np.isnan(draws).all() else float(np.nanquantile(draws, q))

    def summary(values: dict[str, np.ndarray]) -> tuple[JudgeComponents, ...]:
        """(estimate, low, high) of every component."""
        return (
            JudgeComponents(**{name: float(value[0]) for name, value in values.items()}),
            JudgeComponents(**{name: quantile(value, tail) for name, value in values.items()}),
            JudgeComponents(**{name: quantile(value, 1 - tail) for name, value in values.items()}),
        )

    components_estimate, components_low, components_high = summary(components)
    shares_estimate, shares_low, shares_high = summary(shares)
    return JudgeDecomposition(
        components=components_estimate,
        components_low=components_low,
        components_high=components_high,
        shares=shares_estimate,
        shares_low=shares_low,
        shares_high=shares_high,
        judge_share=Interval(
            float(judge_shares[0]), quantile(judge_shares, tail), quantile(judge_shares, 1 - tail)
        ),
        mean_squares=ms,
    )
