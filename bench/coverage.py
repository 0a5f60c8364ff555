"""Do the dashboard's intervals and p-values keep their promise? Simulations with a known truth.

Every replication draws a crossed experiment from a logit model, runs the statistics the dashboard runs
(backend.stats, called as backend/services/analysis.py calls it), and checks each interval against the truth
it claims to cover and each p-value against a true null. Prints one table row per scenario and quantity:
coverage (or type-I error) with its Monte-Carlo standard error.

Model, per prompt p, training seed s and verdict k (logit scale):
    untuned baseline:  logit P(harmful) = mu + a_p                          (one run, K verdicts per prompt)
    fine-tuned arm:    logit P(harmful) = mu + a_p + effect + d_p + b_s + e_sp
    evaluation-only:   logit P(harmful) = A's logit + eval_effect + d'_p + c_s    (A's checkpoints)
a_p ~ N(0, prompt_sd) prompt difficulty (shared by all arms), d_p ~ N(0, effect_sd) the fine-tuning effect's
variation by prompt (drawn per arm), b_s ~ N(0, seed_sd) the training seed's shift, e_sp ~ N(0, sxp_sd) the
seed x prompt term. An evaluation-only arm evaluates A's checkpoints with another setting (e.g. temperature
0.7 against 0): it shares A's b_s and e_sp, and adds the setting's effect, its variation by prompt
d'_p ~ N(0, eval_prompt_sd) and the seed x setting interaction c_s ~ N(0, eval_seed_sd) (how each checkpoint
answers the setting), with verdicts drawn apart. Prompts are drawn anew in every replication: the truths are
population quantities.

Truths:
- run rate, "given these checkpoints" pooled rate and comparison: the checkpoints' expected rate over new
  prompts and samples, with their seed shifts b_s (and an evaluation-only arm's c_s) as drawn;
- "for new seeds" comparison: the population difference, over new seeds too;
- seed t-interval: the expected per-seed rate on these prompts over new seeds;
- variance components, shares and seed ICC: computed once per scenario from a 3000 x 3000 grid of seeds and
  prompts drawn from the model (the same definitions as backend.stats.variance, on the verdict scale);
- minimum detectable difference range: the MDD that backend.stats.power computes from the true noise (the
  mean of the replications' unbiased moment estimates of it, at the population rates).

Power at each reported MDD: every replication's reported MDD becomes the true difference of a fresh
experiment of the same design (A's effect moved so that the population difference is the MDD, in the
direction the sizing assumed), and the row counts how often the shown for-new-seeds test rejects there;
about 80% means the MDD keeps its promise, below it that it is optimistic. A replication whose sizing says
no reachable difference has 80% power counts in "MDD withheld" instead. "width / oracle" is the for-new-seeds
interval's mean width over the width 2 * 1.96 * SD of the estimate's error over the replications.

Judge-corrected rates (`--corrected`, backend.stats.corrected): the verdicts come from a judge with known
sensitivity and specificity, validated on 100 or 400 labelled examples; each corrected interval (the pooled
rate given these checkpoints, the mean over seeds for new seeds) is checked against the true rate of harm
when it is shown, beside the share withheld and the raw intervals' coverage of what the verdicts estimate.
With a harmless model (no response harmful) the row counts how often the corrected interval excludes 0.

The measures beside the harm rate (`--measures`), through the same model and truths, on the value scale:
- capability: a capability set's cells count correct answers (condition_cells counting its scorer's safe
  verdicts), so "harmful" above reads "correct": one greedy answer per prompt (K = 1), mu set so that the
  untuned baseline answers 0.85 or 0.95 of new prompts correctly (near the ceiling, where intervals on a
  share are hardest), a fine-tune that moves the logit by -0.5 (or +0.5);
- refusal-prefix score: the teacher-forced probability of a refusal opening, one value per (checkpoint,
  prompt) and no verdict drawn: the probability itself, expit(mu + a_p + effect + d_p + b_s + e_sp) for a
  fine-tuned checkpoint and expit(mu + a_p) for the baseline, in cells of count 1 with their sums of squares
  (as condition_refusal_prefix_cells reads them), so the run and pooled intervals are pooled_rate's t
  intervals on mean scores and the variance components have no sampling term.
The truths are the rates' with "rate" read as the expected value: given these checkpoints, E[expit(...)]
over new prompts with the seed shifts as drawn; for new seeds, the population difference.

Usage: python bench/coverage.py [--reps 2000] [--fast | --mends | --evaluation | --corrected | --measures]
    [--scenario NAME ...]
`--fast` runs the slice that `make test` runs (tests/bench/test_coverage.py) and exits 1 when any 95%
interval covers less than 0.92, any p-value's type-I error exceeds 0.08, the power at the reported MDDs
falls below 0.72 (except with paired fine-tuned arms, a known gap) or, for two unpaired fine-tuned arms with 3
or more seeds, a new-seeds interval is wider than 1.8 oracle widths.
"""

import argparse
import functools
import math
import multiprocessing
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import optimize, special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.stats.cells import Cells
from backend.stats.compare import compare_conditions
from backend.stats.corrected import ValidationCounts, corrected_rate
from backend.stats.multitest import adjust_pvalues
from backend.stats.power import (
    Design,
    Noise,
    Rates,
    Undetectable,
    minimum_detectable_difference,
    noise_of,
    sizing,
)
from backend.stats.rates import PromptMoments, pooled_rate, run_rate
from backend.stats.seeds import seed_summary
from backend.stats.variance import Components, variance_components

COVERAGE_FLOOR = 0.92
TYPE_I_CEILING = 0.08
# 0.80 promised; 800 replications put a true 0.80 below 0.72 with probability about 1e-8.
POWER_AT_MDD_FLOOR = 0.72
# The unpaired two-arm interval was 2.2 oracle widths; a t with the arms' summed seed df about 1.3.
WIDTH_CEILING = 1.8
# The largest fine-tuning effect (logit scale) an alternative may ask for.
_EFFECT_LIMIT = 15.0
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(96)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def mean_expit(location: np.ndarray | float, sd: float) -> np.ndarray:
    """E[expit(location + N(0, sd^2))] by Gauss-Hermite quadrature, elementwise in location."""
    location = np.asarray(location, dtype=float)[..., None]
    return (special.expit(location + sd * _GH_NODES) * _GH_WEIGHTS).sum(axis=-1)


@dataclass(frozen=True)
class Scenario:
    name: str
    n_prompts: int
    n_seeds: int
    seed_sd: float
    samples: int
    # "baseline": fine-tuned arm A against a one-run untuned baseline; "finetuned": A against fine-tuned B
    # with the same seeds; "unpaired": A against fine-tuned B whose seeds are not A's (another base model,
    # other seed values); "family": three fine-tuned arms against the baseline (multiple testing);
    # "evaluation": A against B, an evaluation-only condition on A's checkpoints (the same seeds and shifts).
    reference: str = "baseline"
    # True: the population difference is 0 (A's effect chosen to match the reference's rate; for an
    # evaluation-only B, the setting's effect chosen to match A's).
    null: bool = False
    # A population difference to hold (chosen as under a null); None: the scenario's effect.
    alternative: float | None = None
    mu: float = -2.0
    prompt_sd: float = 1.5
    effect: float = 1.5
    effect_sd: float = 0.7
    sxp_sd: float = 0.5
    # An evaluation-only B: the changed setting's effect on A's logit, its SD by prompt (d'_p) and by
    # checkpoint (c_s, the seed x setting interaction).
    eval_effect: float = 0.0
    eval_prompt_sd: float = 0.0
    eval_seed_sd: float = 0.0
    # True: a cell holds the probability itself, one value per (checkpoint, prompt), as a refusal-prefix
    # score does (teacher-forced: no response is sampled or judged); samples must then be 1.
    scores: bool = False

    def __post_init__(self) -> None:
        if self.scores and self.samples != 1:
            raise ValueError(f"{self.name}: a score is one value per cell, not {self.samples}")

    @property
    def fine_tuned_reference(self) -> bool:
        return self.reference in ("finetuned", "unpaired", "evaluation")

    @property
    def checkpoints_null(self) -> bool:
        """Whether the difference given these checkpoints is 0 whatever seeds are drawn: no training noise,
        or an evaluation-only B whose setting changes nothing on any checkpoint."""
        if self.reference == "evaluation":
            return self.null and self.eval_prompt_sd == 0 and self.eval_seed_sd == 0
        return self.null and self.seed_sd == 0

    @property
    def fine_tuned_sd(self) -> float:
        """SD of a fine-tuned verdict's logit around its arm's mean, except the seed shift."""
        return math.sqrt(self.prompt_sd**2 + self.effect_sd**2 + self.sxp_sd**2)

    @property
    def reference_within_sd(self) -> float:
        """SD of a fine-tuned reference's verdict logit around its checkpoint's mean (A's, plus d'_p for an
        evaluation-only B)."""
        return math.hypot(self.fine_tuned_sd, self.eval_prompt_sd)

    @property
    def reference_seed_sd(self) -> float:
        """SD of a fine-tuned reference's checkpoint shifts (b_s, plus c_s for an evaluation-only B)."""
        return math.hypot(self.seed_sd, self.eval_seed_sd)

    def population_rate(self, effect: float) -> float:
        return float(mean_expit(self.mu + effect, math.hypot(self.fine_tuned_sd, self.seed_sd)))

    def reference_population_rate(self, effect: float) -> float:
        return float(
            mean_expit(self.mu + effect, math.hypot(self.reference_within_sd, self.reference_seed_sd))
        )

    @cached_property
    def baseline_rate(self) -> float:
        return float(mean_expit(self.mu, self.prompt_sd))

    @cached_property
    def effect_a(self) -> float:
        """A's mean effect: the scenario's, or the one that gives the reference's rate plus the alternative
        (0 under a null). An evaluation-only B moves instead (effect_b)."""
        if (self.alternative is None and not self.null) or self.reference == "evaluation":
            return self.effect
        if self.alternative is None and self.fine_tuned_reference:
            return self.effect_b
        difference = self.alternative or 0.0
        return float(
            optimize.brentq(
                lambda e: self.population_rate(e) - self.reference_rate - difference,
                -_EFFECT_LIMIT,
                _EFFECT_LIMIT,
            )
        )

    @property
    def reference_rate(self) -> float:
        return (
            self.reference_population_rate(self.effect_b) if self.fine_tuned_reference else self.baseline_rate
        )

    @cached_property
    def effect_b(self) -> float:
        """A fine-tuned reference's mean effect: a weaker fine-tune, or A's plus the setting's for an
        evaluation-only B (the setting's effect chosen to give A's rate minus the alternative, 0 under a
        null)."""
        if self.reference != "evaluation":
            return 0.6 * self.effect
        if self.alternative is None and not self.null:
            return self.effect_a + self.eval_effect
        difference = self.alternative or 0.0
        return float(
            optimize.brentq(
                lambda e: (
                    self.population_rate(self.effect_a) - self.reference_population_rate(e) - difference
                ),
                -_EFFECT_LIMIT,
                _EFFECT_LIMIT,
            )
        )

    def reachable_difference(self, direction: float) -> float:
        """The largest population difference A - B the model reaches in this direction: with A's effect at
        its limit, or for an evaluation-only B with the setting's effect at its limit."""
        limit = math.copysign(_EFFECT_LIMIT, direction)
        if self.reference == "evaluation":
            return abs(self.population_rate(self.effect_a) - self.reference_population_rate(-limit))
        return abs(self.population_rate(limit) - self.reference_rate)

    @cached_property
    def truth_new_seeds(self) -> float:
        return self.population_rate(self.effect_a) - self.reference_rate

    def sampling_variance(self, probability: np.ndarray) -> float:
        """A value's mean variance around its cell's probability: a verdict's p (1 - p); none for a score,
        which is the probability."""
        return 0.0 if self.scores else float((probability * (1 - probability)).mean())

    def components_given_seeds(self, shifts: np.ndarray, rng: np.random.Generator) -> Components:
        """What arm A's prompt, interaction and sampling components estimate with these seeds' shifts.

        With the seeds fixed (the estimator's prompt-level components are "given these seeds": on the
        probability scale they move with the seeds drawn), over a large sample of prompts: with
        u_sp = P(harmful) - its seed's mean, interaction = sum_s E_p (u_sp - mean_s u_sp)^2 / (S - 1),
        prompt = var_p(mean_s u_sp) - interaction / S, sampling = E[p (1 - p)].
        """
        size = 20000
        location = self.mu + self.effect_a + rng.normal(0, math.hypot(self.prompt_sd, self.effect_sd), size)
        p = special.expit(location + shifts[:, None] + rng.normal(0, self.sxp_sd, (shifts.size, size)))
        u = p - p.mean(axis=1, keepdims=True)
        interaction = float(((u - u.mean(axis=0)) ** 2).mean(axis=1).sum() / (shifts.size - 1))
        prompt = float(u.mean(axis=0).var()) - interaction / shifts.size
        sampling = self.sampling_variance(p)
        if self.samples == 1:
            return Components(math.nan, prompt, interaction + sampling, math.nan)
        return Components(math.nan, prompt, interaction, sampling)

    @cached_property
    def true_components(self) -> Components:
        """Variance components of arm A's verdicts over new seeds and prompts, from a large grid."""
        rng = np.random.default_rng(12345)
        size = 3000
        logit = (
            self.mu
            + self.effect_a
            + rng.normal(0, math.hypot(self.prompt_sd, self.effect_sd), (1, size))
            + rng.normal(0, self.seed_sd, (size, 1))
            + rng.normal(0, self.sxp_sd, (size, size))
        )
        p = special.expit(logit)
        seed = float(p.mean(axis=1).var())
        prompt = float(p.mean(axis=0).var())
        interaction = float(p.var()) - seed - prompt
        sampling = self.sampling_variance(p)
        if self.samples == 1:  # one value per cell: the estimator lumps sampling into seed x prompt
            return Components(seed, prompt, interaction + sampling, math.nan)
        return Components(seed, prompt, interaction, sampling)


@dataclass
class Tally:
    """Hits out of trials for each (quantity, kind) of one scenario; kind is coverage or type-I error."""

    hits: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    trials: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    # Per-replication ratios (an interval's width over the oracle's), reported as their mean and its SE.
    ratios: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def add(self, quantity: str, kind: str, hit: bool) -> None:
        self.hits[quantity, kind] += int(hit)
        self.trials[quantity, kind] += 1

    def rows(self) -> Iterator[tuple[str, str, float, float, int]]:
        for (quantity, kind), n in self.trials.items():
            rate = self.hits[quantity, kind] / n
            yield quantity, kind, rate, math.sqrt(max(rate * (1 - rate), 1e-12) / n), n
        for (quantity, kind), values in self.ratios.items():
            yield (
                quantity,
                kind,
                float(values.mean()),
                float(values.std(ddof=1) / math.sqrt(values.size)),
                values.size,
            )


def _grid_cells(harmful: np.ndarray, samples: int, sum_squares: np.ndarray | None = None) -> Cells:
    """Cells of a seeds x prompts grid: verdict counts, or with `sum_squares` sums of scores."""
    seeds, prompts = np.indices(harmful.shape)
    return Cells(
        seeds.ravel(),
        prompts.ravel(),
        harmful.ravel(),
        np.full(harmful.size, samples),
        None if sum_squares is None else sum_squares.ravel(),
    )


@dataclass(frozen=True)
class Replication:
    arms: list[Cells]  # fine-tuned arms
    reference: Cells
    seed_shifts: list[np.ndarray]  # per fine-tuned arm
    reference_shifts: np.ndarray | None  # a fine-tuned reference's seed shifts (b_s + c_s for evaluation)
    prompt_locations: list[np.ndarray]  # per fine-tuned arm: mu + effect + a_p + d_p


def simulate(scenario: Scenario, rng: np.random.Generator) -> Replication:
    s, p, k = scenario.n_seeds, scenario.n_prompts, scenario.samples
    difficulty = rng.normal(0, scenario.prompt_sd, p)

    def observe(logit: np.ndarray) -> Cells:
        """The cells of a seeds x prompts grid of logits: k verdicts drawn per cell, or a score's one value,
        the probability itself (as condition_refusal_prefix_cells reads it: sum, count 1, sum of squares)."""
        probability = special.expit(logit)
        if scenario.scores:
            return _grid_cells(probability, 1, probability**2)
        return _grid_cells(rng.binomial(k, probability), k)

    def fine_tuned(effect: float) -> tuple[Cells, np.ndarray, np.ndarray, np.ndarray]:
        location = scenario.mu + effect + difficulty + rng.normal(0, scenario.effect_sd, p)
        shifts = rng.normal(0, scenario.seed_sd, s)
        logit = location + shifts[:, None] + rng.normal(0, scenario.sxp_sd, (s, p))
        return observe(logit), shifts, location, logit

    n_arms = 3 if scenario.reference == "family" else 1
    arms = [fine_tuned(scenario.effect_a) for _ in range(n_arms)]
    if scenario.reference == "evaluation":  # A's checkpoints (same seeds, b_s, e_sp), another setting
        _, shifts, _, logit = arms[0]
        setting_by_seed = rng.normal(0, scenario.eval_seed_sd, s)
        logit = (
            logit
            + (scenario.effect_b - scenario.effect_a)
            + rng.normal(0, scenario.eval_prompt_sd, p)
            + setting_by_seed[:, None]
        )
        reference = observe(logit)
        reference_shifts = shifts + setting_by_seed
    elif scenario.fine_tuned_reference:
        reference, reference_shifts, _, _ = fine_tuned(scenario.effect_b)
        if scenario.reference == "unpaired":  # other seed values: compare_conditions cannot pair them
            reference = Cells(reference.seed + s, reference.prompt, reference.harmful, reference.scored)
    else:
        reference_shifts = None
        reference = observe((scenario.mu + difficulty)[None, :])
    return Replication(
        arms=[cells for cells, *_ in arms],
        reference=reference,
        seed_shifts=[shifts for _, shifts, *_ in arms],
        reference_shifts=reference_shifts,
        prompt_locations=[location for _, _, location, _ in arms],
    )


def _covers(low: float, high: float, truth: float) -> bool:
    return low <= truth <= high


def checkpoint_rates(scenario: Scenario, effect: float, shifts: np.ndarray, within_sd: float) -> np.ndarray:
    """Each checkpoint's expected rate over new prompts (its seed shift as drawn; within_sd: its verdict
    logit's SD around its mean)."""
    return mean_expit(scenario.mu + effect + shifts, within_sd)


def evaluate(scenario: Scenario, reps: int, seed: int, n_permutations: int) -> Tally:
    rng = np.random.default_rng(seed)
    tally = Tally()
    trained = (True, scenario.fine_tuned_reference)
    errors, widths, mdds, noises = [], [], [], []
    truth_components = scenario.true_components
    for _ in range(reps):
        rep = simulate(scenario, rng)
        a, shifts = rep.arms[0], rep.seed_shifts[0]
        checkpoints = checkpoint_rates(scenario, scenario.effect_a, shifts, scenario.fine_tuned_sd)

        # pooled_rate is the dashboard's run_rate at the verdict counts (Wilson at the prompt-clustered n_eff)
        # and, for scores, its mean score with the prompt-clustered t interval.
        rate = pooled_rate(a.subset(a.seed == 0))
        run_quantity = (
            "run mean score (t, prompt-clustered)"
            if scenario.scores
            else "run rate (Wilson, prompt-clustered)"
        )
        tally.add(run_quantity, "coverage", _covers(rate.low, rate.high, checkpoints[0]))
        pooled = pooled_rate(a)
        tally.add(
            "condition rate given checkpoints",
            "coverage",
            _covers(pooled.low, pooled.high, checkpoints.mean()),
        )

        per_seed = np.bincount(a.seed, weights=a.harmful) / np.bincount(a.seed, weights=a.scored)
        # A verdict flipped moves a seed's rate by 1 / its count at least; a score moves by any amount.
        step = 0.0 if scenario.scores else 1 / float(np.bincount(a.seed, weights=a.scored).max())
        summary = seed_summary(per_seed, step=step)
        seed_truth = mean_expit(rep.prompt_locations[0], math.hypot(scenario.seed_sd, scenario.sxp_sd)).mean()
        tally.add(
            "mean over seeds (t, df = S - 1)", "coverage", _covers(summary.low, summary.high, seed_truth)
        )

        comparisons = [
            compare_conditions(arm, rep.reference, trained=trained, n_permutations=n_permutations)
            for arm in rep.arms
        ]
        c = comparisons[0]
        if scenario.fine_tuned_reference:
            assert rep.reference_shifts is not None
            reference_truth = checkpoint_rates(
                scenario, scenario.effect_b, rep.reference_shifts, scenario.reference_within_sd
            ).mean()
        else:
            reference_truth = scenario.baseline_rate
        given_truth = checkpoints.mean() - reference_truth
        given = c.given_checkpoints
        tally.add(
            "difference given checkpoints",
            "coverage",
            _covers(given.interval.low, given.interval.high, given_truth),
        )
        if scenario.checkpoints_null:
            tally.add("permutation p given checkpoints", "type I", given.test.p_value < 0.05)
        if scenario.null and not scenario.checkpoints_null:
            # Informative, not a promise: the checkpoints' test asked the population question.
            tally.add(
                "permutation p against a new-seeds null (not its question)",
                "rejects",
                given.test.p_value < 0.05,
            )
        new = c.new_seeds
        assert new is not None, c.new_seeds_withheld
        tally.add(
            "difference for new seeds",
            "coverage",
            _covers(new.interval.low, new.interval.high, scenario.truth_new_seeds),
        )
        if scenario.null:
            tally.add("seed-aware p for new seeds", "type I", new.p_value < 0.05)
        if scenario.reference == "family":
            pvalues = [x.new_seeds.p_value for x in comparisons if x.new_seeds is not None]
            tally.add(
                "Holm over 3 seed-aware p",
                "type I (family)",
                bool((adjust_pvalues(pvalues, "holm") < 0.05).any()),
            )
            tally.add(
                "BH over 3 seed-aware p",
                "type I (family)",
                bool((adjust_pvalues(pvalues, "bh") < 0.05).any()),
            )
        errors.append(c.estimate - scenario.truth_new_seeds)
        widths.append(new.interval.high - new.interval.low)
        size = sizing(c, Design(scenario.n_seeds, scenario.n_prompts))
        assert size is not None
        tally.add(
            "MDD withheld (no reachable difference has 80% power)", "share", isinstance(size, Undetectable)
        )
        if not isinstance(size, Undetectable):
            mdds.append((size.minimum_detectable_difference, size.low, size.high))
            tally.add(
                "power at each reported MDD (target 0.80)",
                "rejects",
                _rejects_at(
                    scenario, Rates(c.rate_a, c.rate_b).direction * size.minimum_detectable_difference, rng
                ),
            )
        noises.append(noise_of(c))

        decomposition = variance_components(a)
        given_seeds = scenario.components_given_seeds(shifts, rng)
        for f in fields(Components):
            # The seed component is about new seeds; the others describe these seeds' evaluation.
            truth = getattr(truth_components if f.name == "seed" else given_seeds, f.name)
            if math.isnan(truth):
                continue
            low, high = (
                getattr(decomposition.components_low, f.name),
                getattr(decomposition.components_high, f.name),
            )
            tally.add(f"variance component: {f.name}", "coverage", _covers(low, high, truth))
        icc_truth = truth_components.seed / truth_components.total
        tally.add(
            "seed ICC",
            "coverage",
            _covers(decomposition.shares_low.seed, decomposition.shares_high.seed, icc_truth),
        )

    tally.ratios["difference for new seeds", "width / oracle"] = np.array(widths) / (
        2 * 1.96 * np.std(errors)
    )
    if scenario.null:
        return tally
    # The range shows what the estimated noise leaves open: it should cover the MDD computed from the
    # true noise, whose unbiased estimate is the mean of the replications' moment estimates.
    true_noise = Noise(
        np.mean([n.prompt_level for n in noises], axis=0),
        [
            (
                np.mean([n.terms[t][0] for n in noises], axis=0),
                np.mean([n.terms[t][1] for n in noises], axis=0),
            )
            for t in range(len(noises[0].terms))
        ],
        Rates(scenario.population_rate(scenario.effect_a), scenario.reference_rate),
    )
    true_mdd = minimum_detectable_difference(true_noise, Design(scenario.n_seeds, scenario.n_prompts))
    if not math.isinf(true_mdd):
        for _, low, high in mdds:
            tally.add("minimum detectable difference range", "coverage", _covers(low, high, true_mdd))
    return tally


def _rejects_at(scenario: Scenario, difference: float, rng: np.random.Generator) -> bool:
    """Whether the shown for-new-seeds test rejects on a fresh experiment whose true difference is this
    (or the largest the model reaches in its direction, when the sample's rates promised more)."""
    reachable = scenario.reachable_difference(difference)
    difference = math.copysign(min(abs(difference), 0.999 * reachable), difference)
    rep = simulate(replace(scenario, alternative=difference, null=False), rng)
    c = compare_conditions(
        rep.arms[0], rep.reference, trained=(True, scenario.fine_tuned_reference), n_permutations=99
    )
    assert c.new_seeds is not None
    return c.new_seeds.p_value < 0.05


GRID = [
    Scenario(f"{p}p-{s}s-sd{sd}-k{k}", p, s, sd, k)
    for p in (48, 200)
    for s in (3, 5)
    for sd in (0.0, 0.3, 0.8)
    for k in (1, 4)
]
EXTRA = [
    Scenario("48p-3s-sd0.8-k1-finetuned", 48, 3, 0.8, 1, reference="finetuned"),
    Scenario("200p-5s-sd0.3-k4-finetuned", 200, 5, 0.3, 4, reference="finetuned"),
    Scenario("48p-3s-sd0.0-k1-null", 48, 3, 0.0, 1, null=True),
    Scenario("200p-3s-sd0.0-k4-null", 200, 3, 0.0, 4, null=True),
    Scenario("48p-3s-sd0.8-k1-null", 48, 3, 0.8, 1, null=True),
    Scenario("200p-5s-sd0.8-k4-null", 200, 5, 0.8, 4, null=True),
    Scenario("48p-3s-sd0.8-k1-finetuned-null", 48, 3, 0.8, 1, reference="finetuned", null=True),
    Scenario("200p-5s-sd0.3-k4-finetuned-null", 200, 5, 0.3, 4, reference="finetuned", null=True),
    Scenario("48p-3s-sd0.3-k1-family-null", 48, 3, 0.3, 1, reference="family", null=True),
]
# Issue 14's mends: two fine-tuned arms whose seeds are not paired; the MDD after a null pilot (the demo's
# shape is 48 prompts x 3 seeds); two seeds.
MENDS = [
    *(
        Scenario(f"48p-{s}s-sd{sd}-k1-unpaired", 48, s, sd, 1, reference="unpaired")
        for s in (2, 3, 5)
        for sd in (0.3, 0.8)
    ),
    Scenario("48p-3s-sd0.8-k1-unpaired-null", 48, 3, 0.8, 1, reference="unpaired", null=True),
    Scenario("200p-3s-sd0.3-k4-unpaired-null", 200, 3, 0.3, 4, reference="unpaired", null=True),
    Scenario("48p-3s-sd0.3-k1-null", 48, 3, 0.3, 1, null=True),
    Scenario("48p-5s-sd0.3-k1-null", 48, 5, 0.3, 1, null=True),
    Scenario("200p-3s-sd0.3-k4-null", 200, 3, 0.3, 4, null=True),
    Scenario("48p-2s-sd0.3-k1", 48, 2, 0.3, 1),
    Scenario("48p-2s-sd0.8-k1", 48, 2, 0.8, 1),
    Scenario("200p-2s-sd0.3-k4", 200, 2, 0.3, 4),
]
# The scenarios whose figures the mends report, beside existing ones whose power at the MDD is new.
MENDS_REPORTED = [s.name for s in MENDS] + [
    "48p-3s-sd0.0-k1-null",
    "48p-3s-sd0.8-k1-null",
    "200p-5s-sd0.8-k4-null",
    "48p-3s-sd0.8-k1",
    "200p-3s-sd0.3-k4",
]


def _evaluation_pair(n_prompts: int, n_seeds: int, samples: int, setting_by_seed: float) -> Scenario:
    """A fine-tuned condition (seed SD 0.8) against an evaluation-only condition on its checkpoints whose
    setting adds 0.5 to the logit, varying by prompt (SD 0.5) and by checkpoint (SD setting_by_seed)."""
    return Scenario(
        f"{n_prompts}p-{n_seeds}s-sd0.8-k{samples}-evaluation-sxe{setting_by_seed}",
        n_prompts,
        n_seeds,
        0.8,
        samples,
        reference="evaluation",
        eval_effect=0.5,
        eval_prompt_sd=0.5,
        eval_seed_sd=setting_by_seed,
    )


# Evaluation-only conditions against their source, paired on checkpoints; with and without a seed
# x setting interaction, and nulls: the setting changes nothing ("sharp": both p-values' question), or
# nothing on average over new seeds.
EVALUATION = [
    *(_evaluation_pair(48, s, 1, sxe) for s in (2, 3, 5) for sxe in (0.0, 0.3)),
    *(_evaluation_pair(200, 3, 4, sxe) for sxe in (0.0, 0.3)),
    *(
        replace(
            _evaluation_pair(p, 3, k, sxe),
            name=f"{p}p-3s-sd0.8-k{k}-evaluation-" + (f"sxe{sxe}-null" if sxe else "sharp-null"),
            null=True,
            eval_prompt_sd=0.5 if sxe else 0.0,
        )
        for p, k in ((48, 1), (200, 4))
        for sxe in (0.0, 0.3)
    ),
]


def _mu_at(rate: float, sd: float) -> float:
    """The mu whose rate over new prompts, E[expit(mu + N(0, sd^2))], is `rate`."""
    return float(optimize.brentq(lambda mu: mean_expit(mu, sd) - rate, -_EFFECT_LIMIT, _EFFECT_LIMIT))


def _capability(
    n_prompts: int, n_seeds: int, seed_sd: float, base_rate: float, effect: float = -0.5
) -> Scenario:
    """A capability set answered once per prompt (greedy decoding), its cells counting correct answers as
    condition_cells counts a capability set's safe verdicts: the untuned baseline answers `base_rate` of new
    prompts correctly, the fine-tune moves the logit by `effect` (a slight loss, or with a positive effect a
    slight gain)."""
    return Scenario(
        f"{n_prompts}p-{n_seeds}s-sd{seed_sd}-k1-capability{base_rate}" + ("-raised" if effect > 0 else ""),
        n_prompts,
        n_seeds,
        seed_sd,
        1,
        mu=_mu_at(base_rate, Scenario.prompt_sd),
        effect=effect,
    )


def _refusal_prefix(n_prompts: int, n_seeds: int, seed_sd: float) -> Scenario:
    """Refusal-prefix scores in the demo's range (bench/results/refusal-prefix-noise.txt): the untuned
    baseline opens with a refusal with probability 0.26 on average, the fine-tune 0.15; prompts differ far
    more (SD 0.8 on the logit) than a checkpoint differs from another on a prompt (0.1)."""
    return Scenario(
        f"{n_prompts}p-{n_seeds}s-sd{seed_sd}-refusal-prefix",
        n_prompts,
        n_seeds,
        seed_sd,
        1,
        mu=-1.2,
        prompt_sd=0.8,
        effect=-0.8,
        effect_sd=0.4,
        sxp_sd=0.1,
        scores=True,
    )


def _null(scenario: Scenario) -> Scenario:
    return replace(scenario, name=scenario.name + "-null", null=True)


# The measures beside the harm rate. Capability near the ceiling (a baseline at 0.85 and 0.95 correct),
# where an interval on a share is hardest to get right, with the demo's 60 prompts and 200; a fine-tune that
# loses a little capability, one that gains some, and nulls (the fine-tune's population rate the baseline's:
# with seed SD 0 the checkpoints' too). Refusal-prefix scores: no sampling, so a seed's values are its
# checkpoint's alone; seed SDs from none to one where the seed term dominates the new-seeds variance.
CAPABILITY = [
    *(_capability(p, s, 0.3, base) for base in (0.85, 0.95) for p in (60, 200) for s in (3, 5)),
    *(_capability(60, 3, 0.8, base) for base in (0.85, 0.95)),
    _capability(60, 3, 0.3, 0.95, effect=0.5),
    *(_null(_capability(60, 3, sd, base)) for base in (0.85, 0.95) for sd in (0.0, 0.3)),
    _null(_capability(200, 5, 0.3, 0.95)),
]
REFUSAL_PREFIX = [
    *(_refusal_prefix(p, s, sd) for p in (48, 200) for s in (3, 5) for sd in (0.0, 0.1, 0.3)),
    *(_null(_refusal_prefix(48, 3, sd)) for sd in (0.0, 0.1, 0.3)),
    *(_null(_refusal_prefix(200, 5, sd)) for sd in (0.0, 0.3)),
]
MEASURES = CAPABILITY + REFUSAL_PREFIX
# What `make test` runs of them: capability near the ceiling with a loss, the demo's 60 prompts under a
# new-seeds null, refusal-prefix scores under one, and the gain near the ceiling where the symmetric t
# interval for the difference given these checkpoints covered 0.90 (the MOVER interval's case). Known gaps
# stay out of the slice (docs/statistics.md): the prompt component of scores on 48 prompts (0.91-0.94 with
# the bootstrap over prompts) and of capability near the ceiling on 60 prompts x 5 seeds (0.91).
MEASURES_FAST = [
    "200p-3s-sd0.3-k1-capability0.95",
    "60p-3s-sd0.3-k1-capability0.85-null",
    "200p-5s-sd0.3-refusal-prefix-null",
    "60p-3s-sd0.3-k1-capability0.95-raised",
]
SCENARIOS = {s.name: s for s in GRID + EXTRA + MENDS + EVALUATION + MEASURES}


@dataclass(frozen=True)
class CorrectedScenario:
    """A fine-tuned condition judged by a judge with known errors, validated on labelled examples.

    The design's logit model gives each response's probability of being truly harmful, pi; the judge calls
    a truly harmful response harmful with probability `sensitivity` and a truly safe one safe with
    probability `specificity`, so its verdict is harmful with probability Se pi + (1 - Sp)(1 - pi). Its
    validation draws Se and Sp's estimates from `n_validation` labelled examples, `validation_harmful` of
    them harmful. `harmless`: no response is truly harmful (pi = 0), so every harmful verdict is the judge's
    error and the raw rate is 1 - Sp.
    """

    name: str
    design: Scenario
    sensitivity: float
    specificity: float
    n_validation: int
    validation_harmful: float = 0.5
    harmless: bool = False


def _judged(
    scenario: CorrectedScenario, rng: np.random.Generator
) -> tuple[Cells, ValidationCounts, float, float]:
    """One experiment's verdicts, its judge's validation counts, and the truths: the checkpoints' true rate
    over new prompts (given these checkpoints) and the true per-seed rate on these prompts over new seeds."""
    d = scenario.design
    s, p, k = d.n_seeds, d.n_prompts, d.samples
    location = d.mu + d.effect_a + rng.normal(0, math.hypot(d.prompt_sd, d.effect_sd), p)
    shifts = rng.normal(0, d.seed_sd, s)
    harm = special.expit(location + shifts[:, None] + rng.normal(0, d.sxp_sd, (s, p)))
    given_truth = checkpoint_rates(d, d.effect_a, shifts, d.fine_tuned_sd).mean()
    seeds_truth = mean_expit(location, math.hypot(d.seed_sd, d.sxp_sd)).mean()
    if scenario.harmless:
        harm, given_truth, seeds_truth = np.zeros_like(harm), 0.0, 0.0
    called = scenario.sensitivity * harm + (1 - scenario.specificity) * (1 - harm)
    n_harmful = round(scenario.n_validation * scenario.validation_harmful)
    n_safe = scenario.n_validation - n_harmful
    caught = int(rng.binomial(n_harmful, scenario.sensitivity))
    cleared = int(rng.binomial(n_safe, scenario.specificity))
    counts = ValidationCounts(caught, n_harmful - caught, cleared, n_safe - cleared)
    return _grid_cells(rng.binomial(k, called), k), counts, float(given_truth), float(seeds_truth)


def evaluate_corrected(scenario: CorrectedScenario, reps: int, seed: int) -> Tally:
    """Coverage of both corrected intervals, the share withheld, and (harmless) how often the corrected
    interval says some responses are harmful when none is: the type-I error of "harmful at all?"."""
    rng = np.random.default_rng(seed)
    tally = Tally()
    for replication in range(reps):
        cells, counts, given_truth, seeds_truth = _judged(scenario, rng)
        pooled = run_rate(
            int(cells.harmful.sum()), int((cells.scored - cells.harmful).sum()), 0, PromptMoments.of(cells)
        )
        per_seed = np.bincount(cells.seed, weights=cells.harmful) / np.bincount(
            cells.seed, weights=cells.scored
        )
        seeds = seed_summary(per_seed, step=1 / float(np.bincount(cells.seed, weights=cells.scored).max()))
        corrected = corrected_rate(
            counts, pooled.rate, pooled.n_scored / pooled.design_effect, seeds, seed=seed * reps + replication
        )
        # For comparison, on every replication: the raw intervals around what the verdicts estimate.
        called = [
            scenario.sensitivity * t + (1 - scenario.specificity) * (1 - t)
            for t in (given_truth, seeds_truth)
        ]
        tally.add(
            "raw rate given checkpoints (of verdicts)",
            "coverage",
            _covers(pooled.low, pooled.high, called[0]),
        )
        tally.add("raw mean over seeds (of verdicts)", "coverage", _covers(seeds.low, seeds.high, called[1]))
        tally.add("corrected rate: withheld", "share", corrected.withheld is not None)
        if corrected.pooled is None or corrected.mean is None:
            continue
        for quantity, interval, truth in (
            ("corrected rate given checkpoints", corrected.pooled, given_truth),
            ("corrected mean over seeds", corrected.mean, seeds_truth),
        ):
            if scenario.harmless:
                tally.add(f"{quantity}: says harmful", "type I", interval.low > 0)
            else:
                tally.add(quantity, "coverage", _covers(interval.low, interval.high, truth))
    return tally


def _corrected(
    n_prompts: int, n_seeds: int, seed_sd: float, samples: int, judge: tuple[float, float], n_validation: int
) -> CorrectedScenario:
    sensitivity, specificity = judge
    return CorrectedScenario(
        f"{n_prompts}p-{n_seeds}s-sd{seed_sd}-k{samples}-se{sensitivity}-sp{specificity}-v{n_validation}",
        Scenario("", n_prompts, n_seeds, seed_sd, samples),
        sensitivity,
        specificity,
        n_validation,
    )


# Judges near chance (Se + Sp near 1), middling and near perfect (near 2); validations of 100 and 400
# labels; 2 to 5 seeds; a rarer harm (about 17% instead of 42%); and harmless models, where every harmful
# verdict is the judge's error.
NEAR_CHANCE, MIDDLING, NEAR_PERFECT = (0.6, 0.55), (0.85, 0.8), (0.98, 0.99)
CORRECTED = [
    *(
        _corrected(p, s, sd, k, judge, n)
        for p, s, sd, k in ((48, 2, 0.3, 1), (48, 3, 0.8, 1), (48, 5, 0.3, 1), (200, 3, 0.8, 4))
        for judge in (NEAR_CHANCE, MIDDLING, NEAR_PERFECT)
        for n in (100, 400)
    ),
    *(
        replace(c, name=c.name + "-rare", design=replace(c.design, mu=-4.0))
        for c in (
            _corrected(48, 3, 0.8, 1, judge, n) for judge in (MIDDLING, NEAR_PERFECT) for n in (100, 400)
        )
    ),
    *(
        replace(c, name=c.name + "-harmless", harmless=True)
        for c in (
            _corrected(48, 3, 0.8, 1, judge, n) for judge in (MIDDLING, NEAR_PERFECT) for n in (100, 400)
        )
    ),
]
CORRECTED_SCENARIOS = {c.name: c for c in CORRECTED}
# What `make test` runs of them: a middling and a near-perfect judge, each validation size, a harmless model.
CORRECTED_FAST = [
    "48p-3s-sd0.8-k1-se0.85-sp0.8-v100",
    "48p-5s-sd0.3-k1-se0.98-sp0.99-v400",
    "200p-3s-sd0.8-k4-se0.98-sp0.99-v100",
    "48p-3s-sd0.8-k1-se0.85-sp0.8-v100-harmless",
]
# What `make test` runs: the designs where the issue found undercoverage, a null of each kind, both sizes.
FAST = [
    "200p-3s-sd0.8-k4",
    "48p-3s-sd0.3-k1",
    "48p-5s-sd0.0-k4",
    "48p-3s-sd0.8-k1-finetuned",
    "48p-3s-sd0.8-k1-null",
    "48p-3s-sd0.0-k1-null",
    "48p-3s-sd0.8-k1-finetuned-null",
    "48p-3s-sd0.8-k1-unpaired",
    "48p-3s-sd0.3-k1-null",
    "48p-2s-sd0.3-k1",
    # An evaluation-only pair with a seed x setting interaction; its 2 seeds keep it quick (no MDD to size).
    "48p-2s-sd0.8-k1-evaluation-sxe0.3",
]


def failures(rows: list[tuple[str, str, str, float, float, int]]) -> list[str]:
    """The promises broken: a 95% interval below COVERAGE_FLOOR, a p-value above TYPE_I_CEILING, the power
    at the reported MDDs below POWER_AT_MDD_FLOOR, an unpaired interval wider than WIDTH_CEILING oracle
    widths."""
    broken = []
    for scenario, quantity, kind, rate, _, _ in rows:
        if kind == "coverage" and rate < COVERAGE_FLOOR:
            broken.append(f"{scenario}: {quantity} covers {rate:.3f} < {COVERAGE_FLOOR}")
        if kind.startswith("type I") and rate > TYPE_I_CEILING:
            broken.append(f"{scenario}: {quantity} type-I error {rate:.3f} > {TYPE_I_CEILING}")
        # Rows of other harnesses (bench/grid_coverage.py) have no scenario here, and neither of these kinds.
        known = SCENARIOS.get(scenario)
        # A known gap, left open: with two fine-tuned arms on paired seeds the MDDs that are shown (about
        # half are withheld) were detected 0.70-0.75 of the time (bench/results/coverage-fast-800.txt).
        paired = known is not None and known.reference == "finetuned"
        if quantity.startswith("power at each reported MDD") and not paired and rate < POWER_AT_MDD_FLOOR:
            broken.append(f"{scenario}: {quantity} is {rate:.3f} < {POWER_AT_MDD_FLOOR}")
        # The ceiling guards the unpaired mend from 3 seeds on: two seeds' 1-df terms make any honest
        # interval wide, and one seed term's interval is a t with S - 1 df, about 2 oracle widths with 3.
        unpaired = known is not None and known.reference == "unpaired" and known.n_seeds >= 3
        if kind == "width / oracle" and unpaired and rate > WIDTH_CEILING:
            broken.append(f"{scenario}: {quantity} is {rate:.2f} oracle widths > {WIDTH_CEILING}")
    return broken


def _timed(evaluate_named: Callable[[str, int], Tally], name: str, seed: int) -> tuple[Tally, float]:
    started = time.perf_counter()
    return evaluate_named(name, seed), time.perf_counter() - started


def run_scenarios(
    evaluate_named: Callable[[str, int], Tally], names: list[str], seed: int
) -> list[tuple[str, str, str, float, float, int]]:
    """Each scenario evaluated on its own seed (`seed` + its index), in worker processes, one per core; so
    the rows do not depend on how many cores ran them. Printed in the scenarios' order as they finish.
    `evaluate_named(name, seed)` must be picklable: a module's function, or a partial of one."""
    rows = []
    workers = max(1, min(len(names), os.cpu_count() or 1))
    # spawn, not fork: the caller (pytest) may hold threads and open connections a forked child would copy.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        seeds = [seed + index for index in range(len(names))]
        timed = pool.map(_timed, [evaluate_named] * len(names), names, seeds)
        for name, (tally, seconds) in zip(names, timed, strict=True):
            for quantity, kind, rate, se, n in tally.rows():
                rows.append((name, quantity, kind, rate, se, n))
                print(row_line(name, quantity, kind, rate, se, n), flush=True)
            print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return rows


def _evaluate_named(name: str, seed: int, reps: int, n_permutations: int) -> Tally:
    if name in CORRECTED_SCENARIOS:
        return evaluate_corrected(CORRECTED_SCENARIOS[name], reps, seed)
    return evaluate(SCENARIOS[name], reps, seed, n_permutations)


def run(
    names: list[str], reps: int, seed: int, n_permutations: int
) -> list[tuple[str, str, str, float, float, int]]:
    return run_scenarios(
        functools.partial(_evaluate_named, reps=reps, n_permutations=n_permutations), names, seed
    )


_ROW = re.compile(
    r"^(\S+) +(.+?) {2,}(coverage|type I \(family\)|type I|rejects|share|width / oracle) +([\d.]+) ± ([\d.]+)"
    r" +\(n=(\d+)\)$"
)


def parse(output: str) -> list[tuple[str, str, str, float, float, int]]:
    """The rows `run` printed, read back."""
    rows = []
    for line in output.splitlines():
        match = _ROW.match(line)
        if match:
            scenario, quantity, kind, rate, se, n = match.groups()
            rows.append((scenario, quantity, kind, float(rate), float(se), int(n)))
    return rows


def summary(rows: list[tuple[str, str, str, float, float, int]]) -> str:
    """A Markdown table: per quantity, the worst, median and best rate over the scenarios run."""
    by_quantity: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    for scenario, quantity, kind, rate, se, _ in rows:
        by_quantity[quantity, kind].append((rate, se, scenario))
    lines = [
        "| quantity | measures | scenarios | worst (± MC SE) | in scenario | median | best |",
        "|---|---|---|---|---|---|---|",
    ]
    for (quantity, kind), values in by_quantity.items():
        values.sort()
        # For coverage and power the worst case is the lowest; for a type-I error, a rejection rate under
        # a null, a share withheld or a width, the highest.
        lowest_worst = kind == "coverage" or quantity.startswith("power")
        worst = values[0] if lowest_worst else values[-1]
        best = values[-1] if lowest_worst else values[0]
        median = values[len(values) // 2][0]
        lines.append(
            f"| {quantity} | {kind} | {len(values)} | {worst[0]:.3f} ± {worst[1]:.3f} | {worst[2]} | "
            f"{median:.3f} | {best[0]:.3f} |"
        )
    return "\n".join(lines)


def row_line(scenario: str, quantity: str, kind: str, rate: float, se: float, n: int) -> str:
    """One row as `run` prints it and `parse` reads it back."""
    return f"{scenario:34s} {quantity:58s} {kind:16s} {rate:6.3f} ± {se:.3f}  (n={n})"


def report(rows: list[tuple[str, str, str, float, float, int]]) -> int:
    """Print the summary and every broken promise; the exit status (1 if any)."""
    print()
    print(summary(rows))
    broken = failures(rows)
    for line in broken:
        print(f"BROKEN: {line}")
    return 1 if broken else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="replications per scenario")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--permutations", type=int, default=2000, help="sign flips per permutation test")
    parser.add_argument("--fast", action="store_true", help="the slice make test runs")
    parser.add_argument("--mends", action="store_true", help="the scenarios of issue 14's mends")
    parser.add_argument("--evaluation", action="store_true", help="the evaluation-only pairs")
    parser.add_argument("--corrected", action="store_true", help="the judge-corrected rates")
    parser.add_argument("--measures", action="store_true", help="capability rates and refusal-prefix scores")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS | CORRECTED_SCENARIOS), help="repeatable"
    )
    parser.add_argument(
        "--summarize", type=Path, help="summarize the rows a previous run printed; run nothing"
    )
    args = parser.parse_args()
    names = args.scenario or (
        FAST
        if args.fast
        else MENDS_REPORTED
        if args.mends
        else [s.name for s in EVALUATION]
        if args.evaluation
        else list(CORRECTED_SCENARIOS)
        if args.corrected
        else [s.name for s in MEASURES]
        if args.measures
        else list(SCENARIOS)
    )
    rows = (
        parse(args.summarize.read_text())
        if args.summarize
        else run(names, args.reps, args.seed, args.permutations)
    )
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
