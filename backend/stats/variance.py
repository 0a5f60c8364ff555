"""Variance components of one condition's binary verdicts: training seed, prompt, their interaction, sampling.

Model (two-way crossed random effects with replication): y = mu + seed + prompt + seed x prompt + e, where
y is one 0/1 verdict and e is sampling / re-evaluation noise within a (seed, prompt) cell. Estimated by the
method of moments on the ANOVA mean squares (Searle, Casella & McCulloch 1992, ch. 4). Verdicts are binary,
so sum(y^2) = sum(y) and cell counts are sufficient: within-cell SS = harmful - harmful^2 / scored.

Unbalanced cells are handled by the unweighted-means analysis (Searle et al. 1992, ch. 5): the seed,
prompt and interaction mean squares come from the table of cell rates, the sampling mean square is the pooled
within-cell variance, and the cell size n in the expected mean squares is the harmonic mean of the cells'
scored counts. With equal cell sizes this is exactly the balanced ANOVA; with unequal sizes the expectations
still hold when the sampling variance is the same in every cell. Prompts without a scored verdict under
every seed are dropped (counted in `n_prompts_dropped`), so the table of cell rates is complete.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from backend.stats.cells import Cells


@dataclass(frozen=True)
class Components:
    """Variances (proportion^2) of one verdict by source; also the input of the power calculations.

    `sampling` is NaN when it cannot be separated from `seed_x_prompt` (one verdict per cell); then
    `seed_x_prompt` holds their sum.
    """

    seed: float
    prompt: float
    seed_x_prompt: float
    sampling: float

    @property
    def total(self) -> float:
        """Variance of one verdict: the sum of the components (NaN sampling counted as 0)."""
        return float(np.nansum([getattr(self, f.name) for f in fields(self)]))


@dataclass(frozen=True)
class VarianceDecomposition:
    """Components, their shares of the total, and the design they were estimated from."""

    components: Components
    shares: Components
    # True when every cell has one scored verdict: interaction and sampling noise are then confounded.
    interaction_confounded: bool
    balanced: bool
    cell_size: float  # harmonic mean of scored verdicts per cell
    n_seeds: int
    n_prompts: int
    n_prompts_dropped: int

    @property
    def icc_seed(self) -> float:
        """Intraclass correlation for training seed: the share of verdict variance due to the seed."""
        return self.shares.seed


def variance_components(cells: Cells) -> VarianceDecomposition:
    """Method-of-moments variance components of one condition; negative estimates are truncated to 0.

    Truncation follows common practice for ANOVA estimators (a negative estimate means "indistinguishable
    from 0"); each component is truncated on its own, so the others keep their unbiased values.
    Needs at least 2 seeds and 2 prompts with a scored verdict under every seed.
    """
    seeds, seed_index = np.unique(cells.seed, return_inverse=True)
    prompts, prompt_index = np.unique(cells.prompt, return_inverse=True)
    harmful = np.zeros((len(seeds), len(prompts)))
    scored = np.zeros((len(seeds), len(prompts)))
    harmful[seed_index, prompt_index] = cells.harmful
    scored[seed_index, prompt_index] = cells.scored
    complete = (scored > 0).all(axis=0)
    harmful, scored = harmful[:, complete], scored[:, complete]
    a, b = scored.shape
    if a < 2 or b < 2:
        raise ValueError(
            f"variance components need >= 2 seeds and >= 2 prompts scored under every seed; got {a} seeds "
            f"and {b} such prompts ({len(prompts) - b} prompts lack a scored verdict under some seed)"
        )

    rate = harmful / scored
    seed_means, prompt_means, grand = rate.mean(axis=1), rate.mean(axis=0), rate.mean()
    residual = rate - seed_means[:, None] - prompt_means[None, :] + grand
    # Mean squares on the cell-rate scale, i.e. the usual mean squares divided by the cell size n.
    ms_seed = b * ((seed_means - grand) ** 2).sum() / (a - 1)
    ms_prompt = a * ((prompt_means - grand) ** 2).sum() / (b - 1)
    ms_interaction = (residual**2).sum() / ((a - 1) * (b - 1))
    cell_size = a * b / (1 / scored).sum()
    df_within = scored.sum() - a * b
    confounded = df_within == 0
    sampling = math.nan if confounded else (harmful - harmful**2 / scored).sum() / df_within
    # E[ms_interaction] = var_sxp + var_sampling / n; with one verdict per cell the two cannot be split.
    seed_x_prompt = ms_interaction if confounded else ms_interaction - sampling / cell_size
    components = Components(
        seed=max(0.0, float(ms_seed - ms_interaction) / b),
        prompt=max(0.0, float(ms_prompt - ms_interaction) / a),
        seed_x_prompt=max(0.0, float(seed_x_prompt)),
        sampling=float(sampling),
    )
    total = components.total
    shares = Components(
        *(getattr(components, f.name) / total if total > 0 else math.nan for f in fields(components))
    )
    return VarianceDecomposition(
        components=components,
        shares=shares,
        interaction_confounded=bool(confounded),
        balanced=bool((scored == scored[0, 0]).all()),
        cell_size=float(cell_size),
        n_seeds=a,
        n_prompts=b,
        n_prompts_dropped=len(prompts) - b,
    )
