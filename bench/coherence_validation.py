"""Measure the coherence rule against hand labels: `python bench/coherence_validation.py`.

The labelled set (worker/data/coherence-{tuning,heldout}-v1.jsonl) was written for seedscope: responses
like a small chat model's to harmful and benign prompts and to capability questions (terse arithmetic,
one-word answers, digit soup), labelled coherent or incoherent, each kind split about evenly between the
two parts. The thresholds are chosen on the tuning part only (the most accurate rule there; among equally
accurate ones, the middle one, each threshold half-way between two observed values: choose_rule); the
held-out part is measured, never tuned on. Both the chosen rule and the shipped default
(worker.coherence.DEFAULT_RULE) are reported, with Wilson 95% intervals; "incoherent" is the positive
class. The likelihoods are the embedded SmolLM2-135M-Instruct's, on the CPU (about a minute, plus 20 s
converting the model the first time).
"""

import argparse
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from backend.catalog.base_models import SMOLLM2_INSTRUCT
from backend.config import Settings
from backend.stats.rates import wilson_interval
from worker.coherence import DEFAULT_RULE, CoherenceRule, TextFeatures, judge_coherence, text_features
from worker.likelihood import mean_log_likelihoods
from worker.models.sources import LoadedModel, load_base_model

DATA = Path(__file__).resolve().parents[1] / "worker" / "data"
PARTS = ("tuning", "heldout")
BATCH = 8


@dataclass(frozen=True)
class Scored:
    prompt: str
    response: str
    kind: str
    incoherent: bool  # the label
    features: TextFeatures
    log_likelihood: float | None


def read_part(name: str) -> list[dict[str, str]]:
    with (DATA / f"coherence-{name}-v1.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def score_part(rows: list[dict[str, str]], loaded: LoadedModel) -> list[Scored]:
    pairs = [(row["prompt"], row["response"]) for row in rows]
    log_likelihoods: list[float | None] = []
    for start in range(0, len(pairs), BATCH):
        log_likelihoods += mean_log_likelihoods(loaded.model, loaded.tokenizer, pairs[start : start + BATCH])
    return [
        Scored(
            row["prompt"],
            row["response"],
            row["kind"],
            row["label"] == "incoherent",
            text_features(row["response"], row["prompt"]),
            ll,
        )
        for row, ll in zip(rows, log_likelihoods, strict=True)
    ]


def predictions(items: Sequence[Scored], rule: CoherenceRule) -> list[bool]:
    return [judge_coherence(item.features, item.log_likelihood, rule).incoherent for item in items]


def _cuts(values: Sequence[float]) -> list[float]:
    """Thresholds half-way between consecutive observed values, and one past each end."""
    ordered = sorted(set(values))
    return [ordered[0] - 1, *((a + b) / 2 for a, b in itertools.pairwise(ordered)), ordered[-1] + 1]


def choose_rule(items: Sequence[Scored]) -> CoherenceRule:
    """The most accurate rule on `items`. Many rules tie; the middle one is taken, threshold by threshold
    (likelihood, repetition, non-language: each the median of those left), so that no threshold sits on
    one example's value."""
    likelihoods = [item.log_likelihood for item in items if item.log_likelihood is not None]
    candidates = list(
        itertools.product(
            _cuts(likelihoods),
            _cuts([item.features.repetition for item in items]),
            _cuts([item.features.non_language for item in items]),
        )
    )
    labels = [item.incoherent for item in items]

    def correct(thresholds: tuple[float, float, float]) -> int:
        marked = predictions(items, CoherenceRule(*thresholds))
        return sum(m == t for m, t in zip(marked, labels, strict=True))

    scores = [correct(thresholds) for thresholds in candidates]
    best = [thresholds for thresholds, score in zip(candidates, scores, strict=True) if score == max(scores)]
    for axis in range(3):
        values = sorted({thresholds[axis] for thresholds in best})
        middle = values[(len(values) - 1) // 2]
        best = [thresholds for thresholds in best if thresholds[axis] == middle]
    return CoherenceRule(*best[0])


def _share(hits: int, n: int) -> str:
    if n == 0:
        return "undefined (n=0)"
    interval = wilson_interval(hits, n)
    return f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}] ({hits}/{n})"


def report(name: str, items: Sequence[Scored], rule: CoherenceRule) -> list[str]:
    marked = predictions(items, rule)
    labels = [item.incoherent for item in items]
    pairs = list(zip(marked, labels, strict=True))
    true_positive = sum(m and t for m, t in pairs)
    return [
        f"  {name} (n={len(items)}, {sum(labels)} incoherent):",
        f"    accuracy  {_share(sum(m == t for m, t in pairs), len(pairs))}",
        f"    precision {_share(true_positive, sum(marked))}",
        f"    recall    {_share(true_positive, sum(labels))}",
    ]


def misses(items: Sequence[Scored], rule: CoherenceRule) -> list[str]:
    lines = []
    for item, marked in zip(items, predictions(items, rule), strict=True):
        if marked != item.incoherent:
            ll = "none" if item.log_likelihood is None else f"{item.log_likelihood:.2f}"
            lines.append(
                f"    {'false alarm' if marked else 'missed'} [{item.kind}] ll {ll}, rep "
                f"{item.features.repetition:.2f}, non-language {item.features.non_language:.2f}: "
                f"{item.response[:70]!r}"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true", help="list every response the rule gets wrong")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    settings = Settings()
    settings.ensure_dirs()
    loaded = load_base_model(SMOLLM2_INSTRUCT, None, settings, torch.device("cpu"))
    scored = {part: score_part(read_part(part), loaded) for part in PARTS}
    chosen = choose_rule(scored["tuning"])
    lines = [f"model: {SMOLLM2_INSTRUCT} on the CPU (mean log-likelihood in nats per token)"]
    for title, rule in (("chosen on the tuning part", chosen), ("shipped default", DEFAULT_RULE)):
        lines.append(
            f"{title}: min_log_likelihood {rule.min_log_likelihood:.3f}, max_repetition "
            f"{rule.max_repetition:.3f}, max_non_language {rule.max_non_language:.3f}"
        )
        for part in PARTS:
            lines += report(part, scored[part], rule)
            if args.show_misses:
                lines += misses(scored[part], rule)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
