"""An experiment's report in Markdown: what a reader needs to judge its claim (Fraser et al., "Fine-Tuning
Lowers Safety and Disrupts Evaluation Consistency", LLMSEC 2025, recommend reporting the model and data,
the judge and its validation, the sampling, every seed and the spread between them).

A formatting layer only: every number comes from the read models (backend.services.analysis, the
experiment, the datasets, the runs' provenance). Stored strings are escaped (`text`) or shown as code
(`code`), so a name or description cannot add links or HTML to the rendered page.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from backend.api_models.analysis import AnalysisRead, ComparisonRead, ConditionSummaryRead, IntervalRead
from backend.api_models.catalog import BenchmarkRead, TrainingSetRead
from backend.api_models.experiments import ConditionRead, ExperimentRead
from backend.api_models.judges import RescoringRead, ValidationSummaryRead
from backend.domain import JudgeJobStatus
from backend.experiment_definition import Level
from backend.judging.measures import rate_measure, set_measure
from backend.provenance import CudaDevice, Device, Provenance

NOT_VALIDATED = "not validated in this deployment"
# CommonMark lets a backslash escape any ASCII punctuation: escaping them all leaves no markup to read.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def text(value: object) -> str:
    """A stored string as Markdown text on one line: every punctuation character escaped."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> str:
    """A stored identifier (a name, a version, a hash) as inline code, which Markdown shows literally.

    The fence is longer than any run of backticks inside; "|" is escaped for GFM tables, which split cells
    on it even inside code."""
    inner = " ".join(str(value).split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", inner)), default=0) + 1)
    pad = " " if inner.startswith("`") or inner.endswith("`") or not inner else ""
    return f"{fence}{pad}{inner}{pad}{fence}"


def paragraph(value: str) -> list[str]:
    """Multi-line stored text as a block quote, each line escaped (a leading "1." or "-" included)."""
    return [f"> {text(line)}" if line.strip() else ">" for line in value.strip().splitlines()]


def percent(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def points(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def size(x: float) -> str:
    """A minimum detectable difference in percentage points; past 100 no difference is detectable."""
    return "over 100" if x >= 1 else f"{100 * x:.1f}"


def interval(low: float | None, high: float | None, unit: str = "%") -> str:
    if low is None or high is None:
        return "—"
    if unit == "%":
        return f"[{100 * low:.1f}%, {100 * high:.1f}%]"
    return f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def p_value(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


@dataclass(frozen=True)
class ReportInputs:
    experiment: ExperimentRead
    analysis: AnalysisRead
    # Every benchmark the runs answer, in order: the first makes the sections' numbers.
    benchmarks: list[BenchmarkRead]
    # The training sets the fine-tuned conditions train on, in order of first use.
    training_sets: list[TrainingSetRead]
    provenance: list[Provenance]  # one per run; empty for runs not started
    generated_at: datetime


# --- the sections -------------------------------------------------------------------------------------


def _base_model(condition: ConditionRead) -> str:
    revision = condition.spec.base_model_revision
    return f"{code(condition.spec.base_model)}, revision {code(revision) if revision else 'none given'}"


def _used_by(experiment: ExperimentRead, describe: Callable[[ConditionRead], str | None]) -> str:
    """Each distinct description of the conditions (None: not described), with the conditions it applies
    to when there are several."""
    groups: dict[str, list[str]] = {}
    for condition in experiment.conditions:
        if (text := describe(condition)) is not None:
            groups.setdefault(text, []).append(condition.name)
    return "; ".join(
        text if len(groups) == 1 else f"{text} ({', '.join(map(code, names))})"
        for text, names in groups.items()
    )


def _setup(inputs: ReportInputs) -> list[str]:
    experiment = inputs.experiment
    training_sets = {training.id: training for training in inputs.training_sets}

    def training_data(condition: ConditionRead) -> str | None:
        if condition.is_baseline:
            return None
        training = training_sets[condition.training_set_id]
        return (
            f"{code(f'{training.name}@{training.version}')}, {training.n_examples} examples, "
            f"{code(training.content_hash)}"
        )

    loaded = sorted(
        {
            ", ".join(
                f"{key} {code(value)}"
                for key, value in sorted(source.model_dump(exclude={"path"}).items())
                if value
            )
            for source in (p.base_model for p in inputs.provenance)
            if source is not None
        }
    )
    # Derived training sets (training.responses: self) the runs trained on.
    self_written = sorted(
        {
            f"{code(f'{derived.name}@{derived.version}')}, {code(derived.content_hash)}"
            for derived in (p.training_responses for p in inputs.provenance)
            if derived is not None
        }
    )
    originals = [run for run in experiment.runs if run.evaluation_of_id is None]
    rows = [
        ["Base model", _used_by(experiment, _base_model)],
        ["Base model as loaded by the workers", "; ".join(loaded) or "no run has loaded it yet"],
        ["Training data", _used_by(experiment, training_data) or "none: no condition is fine-tuned"],
        *(
            [["Training responses written by the base model", "; ".join(self_written)]]
            if self_written
            else []
        ),
        [
            "Benchmark",
            "; ".join(
                f"{code(f'{benchmark.name}@{benchmark.version}')}, {benchmark.n_prompts} prompts in "
                f"{len(benchmark.categories)} categories, {code(benchmark.content_hash)}"
                for benchmark in inputs.benchmarks
            ),
        ],
        [
            "Judges",
            ", ".join(code(j.ref) for j in inputs.experiment.judges) + " (the first makes the rates)",
        ],
        [
            "Runs",
            f"{len(experiment.runs)}: {len(originals)} (condition, seed) runs and "
            f"{len(experiment.runs) - len(originals)} re-evaluations of their checkpoints; "
            f"{experiment.status_counts.get('done', 0)} done",
        ],
    ]
    return ["## Setup", "", *table(["", ""], rows)]


def _judges(inputs: ReportInputs) -> list[str]:
    lines = ["## Judges and their validation", ""]
    experiment = inputs.experiment
    rescorings = {rescoring.judge: rescoring for rescoring in experiment.rescorings}
    for position, judge in enumerate(experiment.judges):
        lines.append(
            f"- {code(judge.ref)} ({text(judge.kind)}): its harmful rate measures {text(judge.measures)}."
        )
        if position == 0 and experiment.headline_chosen_at is not None:
            chosen_on = f"{experiment.headline_chosen_at:%Y-%m-%d}"
            lines.append(f"  Makes the headline rates: chosen by an editor on {chosen_on}.")
        if (rescoring := rescorings.get(judge.ref)) is not None:
            lines.append(f"  {_rescoring(rescoring)}")
        lines.append(f"  Validation: {_validation(judge.validation)}.")
        if judge.warning:
            lines.append(f"  Warning: {text(judge.warning)}")
    return lines


def _rescoring(rescoring: RescoringRead) -> str:
    """What a judge added after the runs has judged of the responses they stored."""
    if rescoring.status == JudgeJobStatus.DONE:
        return (
            f"Added after the runs: judged the responses they had stored ({rescoring.n_judged}), with "
            "nothing generated again."
        )
    return (
        f"Added after the runs, still judging the stored responses ({rescoring.status}, "
        f"{rescoring.progress:.0%}): its numbers cover part of them."
    )


def _validation(validation: ValidationSummaryRead | None) -> str:
    """A judge's best validation in the project, as a reader needs it; or that there is none."""
    if validation is None or validation.kappa is None or validation.accuracy is None:
        return NOT_VALIDATED
    kappa = f"Cohen's kappa {validation.kappa:.3f}"
    if validation.kappa_low is not None and validation.kappa_high is not None:
        kappa += f" [95% CI {validation.kappa_low:.2f}, {validation.kappa_high:.2f}]"
    unscored = f", {validation.n_unscored} unscored" if validation.n_unscored else ""
    return (
        f"on {code(validation.validation_set)} ({validation.n} human-labelled pairs{unscored}, labels of "
        f"{text(validation.measures)}): accuracy {validation.accuracy:.3f}, {kappa}"
    )


def _seeds(condition: ConditionRead) -> str:
    seeds, pinned = condition.spec.seeds, condition.spec.pin_seeds.pinned()
    pins = f"; pinned: {', '.join(f'{name} {seed}' for name, seed in pinned.items())}" if pinned else ""
    return f"{len(seeds)} ({', '.join(map(str, seeds))}){pins}"


def _settings(condition: ConditionRead, group: str) -> str:
    # Not escaped: the words are made from validated numbers and module names (no Markdown but `_`).
    return ", ".join(s.text for s in condition.settings if s.group == group) or "—"


def _conditions(inputs: ReportInputs) -> list[str]:
    rows = [
        [
            code(condition.name),
            "no (baseline)" if condition.is_baseline else "yes",
            _settings(condition, "training"),
            _settings(condition, "lora"),
            _settings(condition, "generation"),
            _seeds(condition),
        ]
        for condition in inputs.experiment.conditions
    ]
    header = ["Condition", "Fine-tuned", "Training", "LoRA", "Generation and sampling", "Seeds"]
    note = (
        "Each run has four seeds (LoRA init, data order, data subset, sampling), all equal to the run's "
        "seed unless pinned; a re-evaluation samples its checkpoint again with a new sampling seed. Greedy "
        "decoding (temperature 0) makes the sampling seed irrelevant."
    )
    return ["## Conditions", "", *table(header, rows), "", note]


def _mean(mean: float | None, low: float | None, high: float | None, n_seeds: int) -> str:
    if mean is None:
        return "—"
    return (
        f"{percent(mean)} {interval(low, high)}"
        if low is not None
        else f"{percent(mean)} (one seed: no interval)"
    )


def _rates(inputs: ReportInputs) -> list[str]:
    analysis = inputs.analysis
    rows = []
    for c in analysis.conditions:
        pooled = c.pooled
        per_seed = ", ".join(f"{p.seed}: {percent(p.rate)}" for p in c.seeds) or "—"
        unscored = f" ({pooled.unscored} unscored)" if pooled.unscored else ""
        unscored += f" ({pooled.incoherent} incoherent)" if pooled.incoherent else ""
        rows.append(
            [
                code(c.name),
                f"{c.runs_done} / {c.runs_total}",
                _mean(c.mean, c.low, c.high, len(c.seeds)),
                "—" if c.sd is None else f"{100 * c.sd:.1f}",
                "—" if c.min is None else f"{percent(c.min)}–{percent(c.max)}",
                f"{percent(pooled.rate)} {interval(pooled.low, pooled.high)}, "
                f"n = {pooled.harmful + pooled.safe}{unscored}",
                per_seed,
            ]
        )
    header = [
        "Condition",
        "Runs done",
        "Mean over seeds [t 95%]",
        "SD between seeds (points)",
        "Min–max",
        "All verdicts pooled [95% given these checkpoints]",
        "Per seed",
    ]
    measure = rate_measure(inputs.experiment.judges[0].measures, analysis.judge)
    note = (
        f"{measure.title}: {text(measure.meaning)} (unscored responses are counted, not rated). The "
        "t-interval is over per-seed rates, df = seeds − 1 (for new seeds); the pooled interval is Wilson's, "
        "clustered by prompt when a prompt has several verdicts, and counts evaluation noise only (given "
        "these checkpoints)."
    )
    return [
        f"## {measure.title} per condition",
        "",
        *table(header, rows),
        "",
        note,
        "",
        *_corrected(analysis),
    ]


def _corrected_value(value: IntervalRead | None) -> str:
    if value is None or value.estimate is None:
        return "—"
    if value.low is None:
        return f"{percent(value.estimate)} (one seed: no interval)"
    return f"{percent(value.estimate)} {interval(value.low, value.high)}"


def _corrected(analysis: AnalysisRead) -> list[str]:
    """A line per condition: its rate corrected for the judge's errors, or why it is not."""
    used = next(
        (c.corrected.validation for c in analysis.conditions if c.corrected and c.corrected.validation), None
    )
    source = (
        f" with the judge's sensitivity {used.sensitivity:.3f} and specificity {used.specificity:.3f} on "
        f"{code(used.validation_set)} ({used.n_harmful} harmful and {used.n_safe} safe human-labelled pairs)"
        if used and used.sensitivity is not None and used.specificity is not None
        else ""
    )
    lines = [
        f"**Corrected for the judge's errors** (Rogan–Gladen{source}; 95% intervals carry the judge's "
        "uncertainty from its validation counts and assume its validation pairs resemble these responses; "
        "beside the raw rates above, not in their place):",
        "",
    ]
    for c in analysis.conditions:
        corrected = c.corrected
        if corrected is None:
            continue
        if corrected.withheld is not None:
            lines.append(f"- {code(c.name)}: not corrected: {text(corrected.withheld)}.")
            continue
        lines.append(
            f"- {code(c.name)}: all verdicts pooled {_corrected_value(corrected.pooled)} (given these "
            f"checkpoints); mean over seeds {_corrected_value(corrected.mean)} (for new seeds)."
        )
    return lines


def comparison_section(comparisons: list[ComparisonRead], adjustment: str) -> list[str]:
    """The paired comparisons: kept in this one function so the statistics' naming can change in one place."""
    adjusted = {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(adjustment, adjustment)
    rows = []
    for c in comparisons:
        given, new = c.given_checkpoints, c.new_seeds
        rows.append(
            [
                f"{code(c.a)} − {code(c.b)}",
                points(c.estimate),
                interval(given.low, given.high, unit="points"),
                f"{p_value(given.p_value)} ({p_value(given.p_adjusted)})",
                interval(new.low, new.high, unit="points")
                if new
                else f"— ({text(c.new_seeds_withheld or '')})",
                f"{p_value(new.p_value)} ({p_value(new.p_adjusted)})" if new else "—",
                f"{c.verdict} ({c.verdict_basis})",
                f"— ({text(c.sizing_withheld)})"
                if c.sizing is None and c.sizing_withheld
                else "—"
                if c.sizing is None
                else f"{size(c.sizing.minimum_detectable_difference)} "
                f"[{size(c.sizing.low)}, {size(c.sizing.high)}]",
                str(c.n_prompts),
                f"{c.seeds_a} / {c.seeds_b}",
            ]
        )
    header = [
        "A − B",
        "Difference (points)",
        "95% CI given these checkpoints",
        "p (adjusted)",
        "95% CI for new seeds",
        "p (adjusted)",
        "Verdict",
        "Detectable with 80% power [95% range]",
        "Prompts",
        "Seeds A / B",
    ]
    note = (
        "Paired on prompts, and on seeds where both conditions are fine-tuned with the same seeds. Given "
        "these checkpoints: evaluation noise only (clustered by prompt, Miller 2024; sign-flip permutation "
        "p). For new seeds: training-seed noise too (each fine-tuned arm's seed variance added, generalized "
        "interval and p; withheld when a fine-tuned arm has one seed). p-values adjusted with "
        f"{adjusted}, each answer across the comparisons shown; the verdict uses the for-new-seeds answer "
        "whenever a condition is fine-tuned."
    )
    if not rows:
        return ["## Paired comparisons", "", "No comparison yet: it needs two conditions with verdicts."]
    return ["## Paired comparisons", "", *table(header, rows), "", note]


def _level(value: Level) -> str:
    if value is None:
        return "all"
    return code(value) if isinstance(value, str) else f"{value:g}"


def _grid(inputs: ReportInputs) -> list[str]:
    grid = inputs.analysis.grid
    if grid is None:
        return []
    rows = [
        [
            code(factor.factor),
            f"{_level(effect.level)} − {_level(effect.reference)}",
            points(effect.estimate),
            interval(effect.given_low, effect.given_high, unit="points"),
            interval(effect.new_seeds.low, effect.new_seeds.high, unit="points")
            if effect.new_seeds
            else f"— ({text(effect.new_seeds_withheld or '')})",
            p_value(effect.new_seeds.p_adjusted) if effect.new_seeds else "—",
            effect.verdict,
            ", ".join(code(other) for other in factor.interacts_with) or "—",
        ]
        for factor in grid.factors
        for effect in factor.effects
    ]
    header = [
        "Factor",
        "Level − first level",
        "Effect (points)",
        "95% CI given these checkpoints",
        "95% CI for new seeds",
        "p (Holm)",
        "Verdict",
        "Changes sign across",
    ]

    def sd(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f}"

    spread = [[f"setup: {code(f.factor)}", sd(f.setup_sd)] for f in grid.factors] + [
        ["seeds (a grid condition's rate across seeds, pooled)", sd(grid.seed_sd)],
        ["re-measurement (one checkpoint evaluated again)", sd(grid.remeasurement_sd)],
    ]
    note = (
        "A factor's effect: its level minus its first level, averaged over the other factors' levels. For "
        "new seeds: paired on seeds (every grid condition runs the same seeds), generalized interval and p, "
        "Holm over every factor's effects. A factor changes sign across another when its effect at two of "
        "the other's levels has opposite signs, each at least one standard error from 0."
    )
    return [
        f"## Setup changes: {grid.n_conditions} grid conditions",
        "",
        *table(header, rows),
        "",
        note,
        "",
        *table(["Spread of the rate", "SD (points)"], spread),
    ]


def _share(x: IntervalRead | None) -> str:
    if x is None or x.estimate is None:
        return "—"
    return f"{100 * x.estimate:.0f}% [{100 * (x.low or 0):.0f}, {100 * (x.high or 0):.0f}]"


def _noise(inputs: ReportInputs) -> list[str]:
    analysis = inputs.analysis
    rows = [
        [
            code(c.name),
            "—" if c.sd is None else f"{100 * c.sd:.2f}",
            "—"
            if c.evaluation_sd is None
            else f"{100 * c.evaluation_sd:.2f} (mean over {len(c.repeats)} checkpoint(s))",
        ]
        for c in analysis.conditions
    ]
    lines = [
        "## Training noise vs evaluation noise",
        "",
        *table(["Condition", "SD between seeds (points)", "SD between re-evaluations (points)"], rows),
    ]
    if analysis.variance:
        variance_rows = [
            [
                code(v.name),
                _share(v.shares.seed),
                _share(v.shares.prompt),
                _share(v.shares.seed_x_prompt),
                _share(v.shares.sampling),
                "—"
                if v.icc_seed.estimate is None
                else f"{v.icc_seed.estimate:.3f} [{v.icc_seed.low or 0:.3f}, {v.icc_seed.high or 0:.3f}]",
                f"{v.n_seeds} × {v.n_prompts}",
            ]
            for v in analysis.variance
        ]
        header = ["Condition", "Seed", "Prompt", "Seed × prompt", "Sampling", "Seed ICC", "Seeds × prompts"]
        lines += [
            "",
            "Shares of a verdict's variance (method of moments) with 95% generalized intervals; the seed "
            "share and ICC speak of new seeds, the others of these seeds' evaluation:",
            "",
            *table(header, variance_rows),
        ]
    for power in analysis.power:
        now = power.now
        lines += [
            "",
            f"{code(power.a)} − {code(power.b)}: with {power.n_seeds} seeds per fine-tuned condition and "
            f"{power.n_prompts} prompts, "
            + (
                f"the for-new-seeds test detects a difference of {size(now.minimum_detectable_difference)} "
                f"points with 80% power (two-sided, alpha 0.05; 95% range {size(now.low)} to "
                f"{size(now.high)})"
                if now is not None
                else text(power.now_withheld or "")
            )
            + "".join(
                f"; with {more.n_seeds} seeds, {size(more.minimum_detectable_difference)}"
                for more in power.more_seeds
            )
            + ".",
        ]
    return lines


def _side_by_side(
    columns: list[str], views: list[tuple[list[ConditionSummaryRead], list[ComparisonRead]]]
) -> list[str]:
    """Each condition's rate, then each comparison, with one column per view (a judge, a benchmark)."""
    rates = [
        [code(name)]
        + [_judged_rate(next(c for c in conditions if c.name == name)) for conditions, _ in views]
        for name in (c.name for c in views[0][0])
    ]
    # A view still being judged may lack a comparison the others have.
    by_pair = [{(c.a, c.b): c for c in comparisons} for _, comparisons in views]
    pairs = list(dict.fromkeys(pair for comparisons in by_pair for pair in comparisons))
    differences = [
        [f"{code(a)} − {code(b)}"]
        + [
            _judged_difference(comparisons[(a, b)]) if (a, b) in comparisons else "—"
            for comparisons in by_pair
        ]
        for a, b in pairs
    ]
    return [*table(["Condition", *columns], rates), "", *table(["Comparison", *columns], differences)]


def _by_judge(inputs: ReportInputs) -> list[str]:
    """Each condition's rate and each comparison under every judge, side by side."""
    views = inputs.analysis.by_judge
    if not views:
        return []
    note = (
        "Each judge's rate is the share of its scored verdicts it called harmful, on the same responses; a "
        "difference is followed by its 95% interval (for new seeds where there is one, else given these "
        "checkpoints) and the verdict of its adjusted test."
    )
    return [
        "## Under each judge",
        "",
        *_side_by_side(
            [f"{code(v.judge)} ({text(v.measures)})" for v in views],
            [(v.conditions, v.comparisons) for v in views],
        ),
        "",
        note,
        *_judge_variance(inputs),
    ]


def _by_benchmark(inputs: ReportInputs) -> list[str]:
    """Each condition's rate and each comparison on every benchmark, side by side."""
    views = inputs.analysis.by_benchmark
    if not views:
        return []
    return [
        "## Under each benchmark",
        "",
        *_side_by_side([code(v.benchmark) for v in views], [(v.conditions, v.comparisons) for v in views]),
        "",
        "Each benchmark's rate is over its own prompts, answered by the same checkpoints; the sections above "
        f"are on {code(inputs.analysis.benchmark)}. A conclusion that changes between columns depends on the "
        "benchmark.",
    ]


def _capability_and_over_refusal(inputs: ReportInputs) -> list[str]:
    """Each capability and over-refusal set's rates and comparisons, beside the harm rates above."""
    views = inputs.analysis.by_scored_set
    if not views:
        return []
    columns = [f"{code(v.benchmark)} ({set_measure(v.measures, v.judge or '').title.lower()})" for v in views]
    meanings = [f"{code(v.benchmark)}: {text(set_measure(v.measures, v.judge or '').meaning)}" for v in views]
    return [
        "## Capability and over-refusal",
        "",
        *_side_by_side(columns, [(v.conditions, v.comparisons) for v in views]),
        "",
        "The same checkpoints, on sets that measure something else than harm: "
        + "; ".join(meanings)
        + ". A fine-tune whose harm rate rose while its capability fell may have broken the model rather "
        "than made it unsafe; one whose over-refusal rose refuses more of everything.",
    ]


def _judge_variance(inputs: ReportInputs) -> list[str]:
    """The judges' share of each condition's variance, where there are the seeds and prompts for it."""
    if not inputs.analysis.judge_variance:
        return []
    rows = [
        [
            code(v.name),
            _share(v.judge_share),
            _share(v.shares.judge),
            _share(v.shares.judge_x_seed),
            _share(v.shares.judge_x_prompt),
            _share(v.shares.residual),
            f"{v.n_judges} judges × {v.n_seeds} seeds × {v.n_prompts} prompts",
        ]
        for v in inputs.analysis.judge_variance
    ]
    header = [
        "Condition",
        "Judges' share [95%]",
        "Judge",
        "Judge × seed",
        "Judge × prompt",
        "Judge × response",
    ]
    return [
        "",
        *table([*header, "Design"], rows),
        "",
        "Shares of the variance of a cell rate (one seed's rate on one prompt under one judge), method of "
        "moments with 95% generalized intervals: the judges' share is the part that is the judges "
        "disagreeing, overall, per checkpoint, per prompt and per response.",
    ]


def _judged_rate(condition: ConditionSummaryRead) -> str:
    pooled = condition.pooled
    unscored = f", {pooled.unscored} unscored" if pooled.unscored else ""
    unscored += f", {pooled.incoherent} incoherent" if pooled.incoherent else ""
    return _mean(condition.mean, condition.low, condition.high, len(condition.seeds)) + unscored


def _judged_difference(comparison: ComparisonRead) -> str:
    answer = comparison.new_seeds or comparison.given_checkpoints
    return f"{points(comparison.estimate)} {interval(answer.low, answer.high, unit='')}, {comparison.verdict}"


def _agreement(inputs: ReportInputs) -> list[str]:
    if not inputs.analysis.agreement:
        return []
    rows = [
        [
            f"{code(a.judge_a)} vs {code(a.judge_b)}",
            a.responses,
            "—"
            if a.kappa is None or a.low is None or a.high is None
            else f"{a.kappa:.3f} [{a.low:.3f}, {a.high:.3f}]",
            percent(a.observed_agreement),
            str(a.n),
        ]
        for a in inputs.analysis.agreement
    ]
    return [
        "## Agreement between judges",
        "",
        *table(["Judges", "On responses", "Cohen's kappa [95%]", "Agreement", "n"], rows),
    ]


def _versions(values: Iterable[object]) -> str:
    counts = Counter(str(value) for value in values if value is not None)
    if not counts:
        return "—"
    return ", ".join(
        f"{code(value)} ({n} runs)" if len(counts) > 1 else code(value) for value, n in counts.items()
    )


def _software(inputs: ReportInputs) -> list[str]:
    started = [(p, p.environment) for p in inputs.provenance if p.environment is not None]
    if not started:
        return ["## Software and hardware", "", "No run has started yet: nothing recorded."]
    packages: dict[str, list[object]] = defaultdict(list)
    for _, environment in started:
        for package, version in environment.packages.items():
            packages[package].append(version)
    rows = [[code(package), _versions(versions)] for package, versions in sorted(packages.items())]
    rows += [
        ["Python", _versions(e.python for _, e in started)],
        ["seedscope commit", _versions(e.git_commit for _, e in started)],
        ["Device", _versions(_device(p.device) for p, _ in started)],
    ]
    missing = len(inputs.provenance) - len(started)
    note = f"From the provenance of {len(started)} run(s)" + (
        f"; {missing} not started yet." if missing else "."
    )
    return ["## Software and hardware", "", *table(["Package", "Versions"], rows), "", note]


def _device(device: Device | None) -> str | None:
    if device is None:
        return None
    if isinstance(device, CudaDevice):
        return f"cuda {device.name} {device.count}"
    return f"cpu {device.torch_threads}"


# --- the STREAM checklist -----------------------------------------------------------------------------

STREAM_SOURCE = (
    "STREAM (ChemBio) v1 (McCaslin et al. 2025, arXiv:2508.09853) has 28 criteria in six categories. "
    "Categories 1 and 2 follow its summary checklist (streamevals.com) in short, 2 (iv) and 2 (v) without "
    "their sub-items; the items of categories 3 to 6 are one line per category here: the standard lists them."
)


@dataclass(frozen=True)
class StreamItem:
    """A STREAM criterion: where this report answers it (`filled`: the report's sections, None when it does
    not), and what the reader must still supply ("" when nothing)."""

    number: str
    criterion: str
    filled: Callable[[ReportInputs], str | None]
    still: str


def _in(sections: str) -> Callable[[ReportInputs], str | None]:
    return lambda _: sections


def _nowhere(_: ReportInputs) -> None:
    return None


def _validated(inputs: ReportInputs) -> str | None:
    if any(judge.validation is not None for judge in inputs.experiment.judges):
        return "each judge's agreement with human labels: «Judges and their validation»"
    return None


def _baseline(inputs: ReportInputs) -> str | None:
    baselines = [code(c.name) for c in inputs.experiment.conditions if c.is_baseline]
    return f"the untuned model, {', '.join(baselines)}, in every rate table" if baselines else None


def _measured(inputs: ReportInputs) -> str:
    title = rate_measure(inputs.experiment.judges[0].measures, "").title
    return f"what the rate measures: «{title} per condition», «Judges and their validation»"


STREAM_ITEMS = (
    StreamItem(
        "1 (i)", "the capabilities measured, the threat models they bear on", _measured, "the threat model"
    ),
    StreamItem(
        "1 (ii)", "the results that would rule a capability of concern in or out", _nowhere, "thresholds"
    ),
    # Model output is untrusted text: the report quotes none (the per-prompt browser has every response).
    StreamItem("1 (iii)", "an example item and response", _nowhere, "an example item and response"),
    StreamItem("2 (i)", "the number of items", _in("prompts per benchmark: «Setup»"), ""),
    StreamItem(
        "2 (ii)",
        "the item type and scoring method",
        _in("open-ended answers judged harmful, safe or unscored: «Setup», «Judges and their validation»"),
        "",
    ),
    StreamItem(
        "2 (iii)", "how the grading criteria were made, their quality control", _validated, "their origin"
    ),
    StreamItem("2 (iv)", "if people graded: the graders", _nowhere, "the graders, if people graded"),
    StreamItem("2 (v)", "if a model graded: the grading model", _in("«Judges and their validation»"), ""),
    StreamItem(
        "3",
        "model elicitation",
        _in("base model, training and generation settings, seeds: «Setup», «Conditions»"),
        "the elicitation effort beyond these settings",
    ),
    StreamItem(
        "4",
        "model performance",
        _in("rates with 95% intervals for new seeds and given these checkpoints, per seed, comparisons"),
        "",
    ),
    StreamItem("5", "baseline performance", _baseline, "a human baseline"),
    StreamItem(
        "6",
        "results interpretation",
        _in("each comparison's verdict: «Paired comparisons»"),
        "the conclusion",
    ),
)


def _stream(inputs: ReportInputs) -> list[str]:
    rows = [
        [item.number, item.criterion, item.filled(inputs) or "—", item.still or "—"] for item in STREAM_ITEMS
    ]
    return [
        "## STREAM checklist",
        "",
        *table(["Item", "Asks for", "Filled by seedscope", "Still to supply"], rows),
        "",
        STREAM_SOURCE,
    ]


def render(inputs: ReportInputs) -> str:
    experiment, analysis = inputs.experiment, inputs.analysis
    lines = [f"# {text(experiment.name)}", ""]
    if experiment.description.strip():
        lines += [*paragraph(experiment.description), ""]
    lines.append(
        f"seedscope experiment {experiment.id}, created {experiment.created_at:%Y-%m-%d %H:%M} UTC; report "
        f"generated {inputs.generated_at:%Y-%m-%d %H:%M} UTC."
    )
    if analysis.partial:
        lines += ["", "**Partial**: some runs have not finished, and the numbers below will change."]
    sections = [
        _setup(inputs),
        _judges(inputs),
        _conditions(inputs),
        _rates(inputs),
        comparison_section(analysis.comparisons, analysis.adjustment),
        _grid(inputs),
        _noise(inputs),
        _by_benchmark(inputs),
        _capability_and_over_refusal(inputs),
        _by_judge(inputs),
        _agreement(inputs),
        _software(inputs),
        _stream(inputs),
    ]
    for section in sections:
        if section:
            lines += ["", *section]
    return "\n".join(lines) + "\n"
