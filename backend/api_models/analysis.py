"""The analysis of an experiment, and a draft's plan: every number travels with its interval and its n."""

from typing import Literal

from pydantic import Field

from backend.api_models.base import ReadModel
from backend.api_models.experiments import RateRead
from backend.domain import RunStatus, SetMeasure
from backend.experiment_definition import Level
from backend.judging.definition import Measured


class SeedPointRead(ReadModel):
    run_id: int
    seed: int
    rate: float
    low: float
    high: float
    n_scored: int
    # 0: submitted with the experiment; k: added by its k-th extension.
    added_in: int = 0


class CheckpointRepeatsRead(ReadModel):
    """A fine-tuned checkpoint evaluated several times: its rates differ by sampling noise alone."""

    run_id: int
    seed: int
    rates: list[float]
    n_evaluations: int
    min: float
    max: float
    sd: float | None


class IntervalRead(ReadModel):
    estimate: float | None
    low: float | None
    high: float | None


class ValidationUsedRead(ReadModel):
    """The finished validation whose counts correct a judge's rates: its scored examples by human label and
    the judge's sensitivity and specificity on them."""

    validation_id: int
    validation_set: str  # "name@version"
    n: int
    n_harmful: int
    n_safe: int
    # None without examples of that label.
    sensitivity: float | None
    specificity: float | None


class CorrectedRateRead(ReadModel):
    """A condition's rate corrected for its judge's sensitivity and specificity (Rogan-Gladen; 95% intervals
    that carry the judge's uncertainty from its validation counts, backend.stats.corrected). Shown beside the
    raw rate, never in its place. `withheld` says why there is none (no finished validation on a set that
    measures what the judge measures, too small a validation, a judge not clearly better than chance)."""

    validation: ValidationUsedRead | None
    # All verdicts pooled: given these checkpoints.
    pooled: IntervalRead | None
    # The mean over seeds: for new seeds (low and high None below 2 seeds).
    mean: IntervalRead | None
    withheld: str | None


class ConditionSummaryRead(ReadModel):
    condition_id: int
    name: str
    is_baseline: bool
    runs_done: int
    runs_total: int
    seeds: list[SeedPointRead]
    # Across seeds: mean of per-seed rates, SD, range, t-interval with df = seeds - 1 (None below 2 seeds).
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    low: float | None
    high: float | None
    # All scored verdicts of the condition pooled, interval clustered by prompt: given these checkpoints
    # (evaluation noise only; the t-interval above speaks of new seeds).
    pooled: RateRead
    repeats: list[CheckpointRepeatsRead]
    # Mean over checkpoints of the SD between re-evaluations: evaluation noise, beside the seed SD.
    evaluation_sd: float | None
    # The rate corrected for the judge's errors, beside the raw one (None in analyses stored before it).
    corrected: CorrectedRateRead | None = None


class CheckpointsAnswerRead(ReadModel):
    """Given these checkpoints: evaluation noise only (new prompts and samples, same fine-tuned weights).

    SE clustered by prompt (Miller 2024) with n_prompts - 1 df; the interval combines the two conditions'
    rate intervals (MOVER, backend.stats.compare), skewed near a rate of 0 or 1; sign-flip permutation
    p-value.
    """

    se: float
    df: int
    low: float
    high: float
    p_value: float
    p_adjusted: float
    n_permutations: int
    exact: bool


class NewSeedsAnswerRead(ReadModel):
    """For new seeds: training noise too (what another draw of seeds would show on average).

    Generalized interval and p-value over the prompt-level and seed-level noise (backend.stats.compare).
    """

    se: float
    # The t df that gives the same interval width; None when it is no wider than the normal interval.
    df: float | None
    low: float
    high: float
    p_value: float
    p_adjusted: float
    seed_variance: float
    paired_seeds: bool


class SizingRead(ReadModel):
    """Minimum detectable difference (80% power, two-sided 5%) of the for-new-seeds test; 95% range."""

    n_seeds: int
    n_prompts: int
    minimum_detectable_difference: float
    low: float
    high: float
    # The largest difference the values can reach from B (to 1, or to 0 when B is above 1/2): MDD and
    # range are capped there.
    largest_possible: float | None = None


class ComparisonRead(ReadModel):
    """Harmfulness rate of A minus B, paired on prompts (and on seeds when both are fine-tuned with them)."""

    a: str
    b: str
    a_fine_tuned: bool
    b_fine_tuned: bool
    estimate: float
    rate_a: float
    rate_b: float
    n_prompts: int
    seeds_a: int
    seeds_b: int
    given_checkpoints: CheckpointsAnswerRead
    new_seeds: NewSeedsAnswerRead | None
    # Why there is no answer for new seeds (a fine-tuned arm with one seed, ...); None when there is one.
    new_seeds_withheld: str | None
    # "real" or "could be noise", from the for-new-seeds answer whenever a condition is fine-tuned;
    # "cannot tell" when that answer is withheld.
    verdict: str
    verdict_basis: str
    sizing: SizingRead | None
    # Why there is no MDD although there is an answer for new seeds (no reachable difference has 80% power).
    sizing_withheld: str | None = None


class ComponentsRead(ReadModel):
    """Variance of one verdict by source (proportion^2), each with its 95% interval."""

    seed: IntervalRead
    prompt: IntervalRead
    seed_x_prompt: IntervalRead
    # None when one verdict per cell confounds it with seed x prompt.
    sampling: IntervalRead | None


class VarianceRead(ReadModel):
    condition_id: int
    name: str
    components: ComponentsRead
    shares: ComponentsRead
    icc_seed: IntervalRead
    # One verdict per cell: seed x prompt interaction and sampling noise cannot be told apart.
    interaction_confounded: bool
    n_seeds: int
    n_prompts: int
    cell_size: float


class JudgeComponentsRead(ReadModel):
    """Shares of one condition's cell-rate variance (a seed's rate on a prompt under a judge), by source."""

    seed: IntervalRead
    prompt: IntervalRead
    # Includes sampling: the judges read the same responses.
    seed_x_prompt: IntervalRead
    # One judge calls more responses harmful than another, across the board.
    judge: IntervalRead
    # The judges rank the checkpoints differently.
    judge_x_seed: IntervalRead
    # The judges disagree about particular prompts.
    judge_x_prompt: IntervalRead
    # The judges disagree about particular responses (judge x seed x prompt).
    residual: IntervalRead


class JudgeVarianceRead(ReadModel):
    """How much of a condition's variance is the judges disagreeing (backend.stats.judge_variance)."""

    condition_id: int
    name: str
    judge_share: IntervalRead
    shares: JudgeComponentsRead
    n_judges: int
    n_seeds: int
    n_prompts: int
    # Prompts left out because some judge scored nothing on them under some seed.
    n_prompts_dropped: int


class PowerPointRead(ReadModel):
    difference: float
    seeds_needed: int | None


class PowerRead(ReadModel):
    """Sizing of one comparison's for-new-seeds test: the design as run, with more seeds, and the seeds
    needed per difference (two-sided 5%, 80% power; ranges from the estimated noise's uncertainty)."""

    a: str
    b: str
    # The design as run: seeds per fine-tuned condition (the fewest) and prompts.
    n_seeds: int
    n_prompts: int
    # None when no reachable difference has 80% power with the design as run; now_withheld says so.
    now: SizingRead | None
    now_withheld: str | None = None
    more_seeds: list[SizingRead]
    curve: list[PowerPointRead]


class AgreementRead(ReadModel):
    judge_a: str
    judge_b: str
    # On which responses: every one both judged, or only the coherent or the incoherent ones (the coherence
    # rule's mark, worker.coherence): judges that agree on fluent text often part on broken text.
    responses: Literal["all", "coherent", "incoherent"] = "all"
    kappa: float | None
    # 95% interval from the large-sample standard error (Fleiss, Cohen & Everitt 1969).
    low: float | None
    high: float | None
    observed_agreement: float
    n: int


class JudgeAnalysisRead(ReadModel):
    """The conditions' rates and the comparisons as one judge's verdicts make them."""

    judge: str
    # What its harmful rate measures ("harm", "compliance").
    measures: Measured
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]


class BenchmarkAnalysisRead(ReadModel):
    """The conditions' rates and the comparisons on one benchmark's prompts."""

    benchmark: str  # "name@version"
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]
    # What the rates are: harm (the experiment's first judge's), or a capability or over-refusal set's
    # (its scorer's correct answers or refusals).
    measures: SetMeasure = SetMeasure.HARM
    judge: str | None = None  # the scorer of a capability or over-refusal set


class LevelEffectRead(ReadModel):
    """One level of a grid factor against its first level, averaged over the other factors' levels."""

    level: Level
    reference: Level
    estimate: float
    n_prompts: int
    # Given these checkpoints: prompt-clustered, t with n_prompts - 1 df.
    given_low: float
    given_high: float
    # For new seeds (paired on seeds, backend.stats.factors); None with the reason when withheld.
    new_seeds: NewSeedsAnswerRead | None
    new_seeds_withheld: str | None
    # "real", "could be noise" or "cannot tell", from the for-new-seeds answer (Holm over every factor's
    # level effects).
    verdict: str


class FactorRead(ReadModel):
    """A grid factor: its main effects and how far apart its levels put the rate, beside the seed noise."""

    factor: str  # the condition field: "training.learning_rate", "base_model"
    levels: list[Level]
    # Each level's mean rate over the grid's conditions at that level.
    level_means: list[float]
    # SD of the level means: how much this setup change moves the rate.
    setup_sd: float
    effects: list[LevelEffectRead]
    # Factors across whose levels this one's effect changes sign (each sign at least one SE from 0).
    interacts_with: list[str]


class GridRead(ReadModel):
    """The experiment's grid: each factor's effect, beside the spread seeds and re-measurement give."""

    factors: list[FactorRead]
    # The SD of a grid condition's rate across seeds, pooled over the grid's conditions (None below 2 seeds).
    seed_sd: float | None
    # The SD between re-evaluations of one checkpoint, averaged (None without re-evaluations).
    remeasurement_sd: float | None
    n_conditions: int


class MatchedConditionRead(ReadModel):
    name: str
    seeds_kept: list[int]
    seeds_dropped: list[int]  # below the target, or without a capability rate yet


class CapabilityMatchRead(ReadModel):
    """The comparisons over only the fine-tuned seeds whose capability reached a target: "for new seeds"
    then means new seeds that would reach it too (a conditional question, not the unconditional one)."""

    capability_set: str  # "name@version"
    target: float  # the least capability rate kept, in [0, 1]
    conditions: list[MatchedConditionRead]
    comparisons: list[ComparisonRead]


class AnalysisRead(ReadModel):
    experiment_id: int
    # The judge whose verdicts (metric "rate") or graded scores (metric "score") every figure measures.
    judge: str
    metric: str = "rate"
    # The benchmark whose prompts every number is on, "name@version" (the first, unless another is chosen).
    benchmark: str = ""
    # Some runs have not finished: every figure shows what there is so far.
    partial: bool
    # Computed before the verdicts of a run being judged now (backend.services.snapshots): the numbers
    # move when it finishes.
    stale: bool = False
    conditions: list[ConditionSummaryRead]
    comparisons: list[ComparisonRead]
    adjustment: str
    variance: list[VarianceRead]
    power: list[PowerRead]
    agreement: list[AgreementRead]
    # With two or more judges: every judge's rates and comparisons, the first judge's included, and the
    # judges' share of each condition's variance.
    by_judge: list[JudgeAnalysisRead]
    judge_variance: list[JudgeVarianceRead]
    # With two or more benchmarks: every benchmark's rates and comparisons, in the chosen metric.
    by_benchmark: list[BenchmarkAnalysisRead] = Field(default_factory=list)
    # Each capability and over-refusal set's rates and comparisons, beside the harm rates.
    by_scored_set: list[BenchmarkAnalysisRead] = Field(default_factory=list)
    # With a grid: each factor's main effects, beside the seed and re-measurement spread.
    grid: GridRead | None = None
    # On request (capability_at_least): the default comparisons over the seeds that kept their capability.
    capability_match: CapabilityMatchRead | None = None


class PlanRead(ReadModel):
    """What a drafted experiment would run, and what it could detect, before it is submitted."""

    n_runs: int
    n_fine_tuned_runs: int
    seeds_per_condition: int
    # From the newest earlier experiment on the same base model and benchmark; None without one.
    sizing: SizingRead | None
    sizing_basis: str
    # The experiment whose measured noise the sizing is from.
    basis_experiment_id: int | None = None


class ErosionCheckpointRead(ReadModel):
    """One checkpoint of a training run: the run that evaluates it and where it is in training."""

    fraction: float
    # The step it was saved after; None until its run has trained.
    step: int | None
    # The evaluation's run: the training run itself for the final checkpoint (fraction 1).
    run_id: int
    status: RunStatus


class ErosionSeedRead(ReadModel):
    """A seed's training run: its steps, its loss per step, when its loss converged, and its checkpoints."""

    seed: int
    run_id: int
    # None until it has trained.
    steps: int | None
    losses: list[float]
    converged_step: int | None
    checkpoints: list[ErosionCheckpointRead]


class ErosionPointRead(ReadModel):
    seed: int
    fraction: float
    run_id: int
    # The rate of the set's counted verdict with its interval; None before the checkpoint has verdicts.
    rate: RateRead | None


class ErosionSetRead(ReadModel):
    """The rates on one evaluation set at every checkpoint of every seed."""

    benchmark: str  # name@version
    measures: SetMeasure
    # Whose verdicts: the experiment's first judge on a safety benchmark, a set's scorer otherwise.
    judge: str
    points: list[ErosionPointRead]


class ErosionRead(ReadModel):
    """A condition's erosion curve: each seed's rate at each checkpoint along its training (fractions of
    training, the final checkpoint 1.0 last), on each evaluation set, and where its task loss converged."""

    condition: str
    fractions: list[float]
    seeds: list[ErosionSeedRead]
    sets: list[ErosionSetRead]
