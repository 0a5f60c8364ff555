"""Measure the refusal judges against human labels: `python bench/judge_validation.py [--data DIR]`.

The labels (../shared/data/judge-validation, see its README) say 1 = the response refused or did not address
the request (our "safe") and 0 = it complied (our "harmful"). The MiniLM judge's similarity threshold is tuned
on DEV (refusal.csv) only; HELD-OUT (refusal_extra.csv plus any mini_refusal.csv rows found in neither) is
reported at the module constant SIMILARITY_THRESHOLD, so its figures are an honest estimate.
"""

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.domain import Verdict
from backend.stats.agreement import accuracy, cohens_kappa
from worker.judges.base import Judge
from worker.judges.refusal import SIMILARITY_THRESHOLD, RefusalMiniLMJudge, RefusalPhraseJudge, minilm_result

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "judge-validation"
HUMAN_VERDICTS = {"1": Verdict.SAFE, "0": Verdict.HARMFUL}
THRESHOLD_GRID = [step / 100 for step in range(101)]
# (human, judge) verdict pairs, in the order the table prints their counts.
CONFUSION_CELLS = [
    (human, judge) for human in (Verdict.SAFE, Verdict.HARMFUL) for judge in (Verdict.SAFE, Verdict.HARMFUL)
]


@dataclass(frozen=True)
class Example:
    objective: str
    response: str
    human: Verdict

    @property
    def key(self) -> tuple[str, str]:
        return (self.objective, self.response)


def _data_lines(path: Path) -> Iterator[str]:
    """The file's lines without its '#' comment lines.

    A line starting with '#' inside a quoted multi-line field (a Markdown heading in a response) is data, so
    quotes are tracked: CSV escapes a quote as "", hence an odd count of quotes on a line toggles the state.
    """
    in_quotes = False
    with path.open(encoding="utf-8", newline="") as lines:
        for line in lines:
            if in_quotes or not line.startswith("#"):
                yield line
                in_quotes ^= line.count('"') % 2 == 1


def read_examples(path: Path) -> list[Example]:
    """A human-labelled CSV (objective, assistant_response, human_score, data_type), duplicates dropped."""
    examples: dict[tuple[str, str], Example] = {}
    for row in csv.DictReader(_data_lines(path)):
        try:
            human = HUMAN_VERDICTS[row["human_score"].strip()]
        except KeyError:
            raise ValueError(f"{path}: human_score {row['human_score']!r} is neither 0 nor 1") from None
        example = Example(objective=row["objective"], response=row["assistant_response"], human=human)
        examples.setdefault(example.key, example)
    return list(examples.values())


def load_splits(data_dir: Path) -> tuple[list[Example], list[Example]]:
    """DEV and HELD-OUT, with no (objective, response) pair in both or twice in either."""
    dev = read_examples(data_dir / "refusal.csv")
    held_out = read_examples(data_dir / "refusal_extra.csv")
    dev_keys = {example.key for example in dev}
    held_out = [example for example in held_out if example.key not in dev_keys]
    mini = read_examples(data_dir / "mini_refusal.csv")
    held_out_keys = {example.key for example in held_out}
    new = [example for example in mini if example.key not in dev_keys | held_out_keys]
    print(
        f"mini_refusal.csv: {len(mini)} rows, {sum(e.key in dev_keys for e in mini)} already in DEV, "
        f"{sum(e.key in held_out_keys for e in mini)} already in HELD-OUT, {len(new)} added to HELD-OUT"
    )
    return dev, held_out + new


def report_row(split: str, judge: str, predicted: Sequence[Verdict], examples: Sequence[Example]) -> str:
    human = [example.human for example in examples]
    agreement = accuracy(predicted, human)
    pairs = Counter(zip(human, predicted, strict=True))
    confusion = " ".join(f"{pairs[cell]:>9}" for cell in CONFUSION_CELLS)
    return (
        f"{split:<9} {judge:<16} {len(examples):>4} {agreement.accuracy:>6.3f} "
        f"{f'[{agreement.low:.2f}, {agreement.high:.2f}]':>13} {cohens_kappa(human, predicted).kappa:>6.3f}  "
        f"{confusion}"
    )


def tune_threshold(judge: RefusalMiniLMJudge, dev: Sequence[Example]) -> tuple[float, float]:
    """The grid threshold with the best DEV accuracy (the middle one of ties) and that accuracy."""
    similarities = judge.embedder.pair_similarities([e.objective for e in dev], [e.response for e in dev])
    human = [example.human for example in dev]

    def dev_accuracy(threshold: float) -> float:
        verdicts = [
            minilm_result(example.response, similarity, threshold).verdict
            for example, similarity in zip(dev, similarities, strict=True)
        ]
        return accuracy(verdicts, human).accuracy

    scores = {threshold: dev_accuracy(threshold) for threshold in THRESHOLD_GRID}
    best = max(scores.values())
    # A plateau of equally good thresholds is common on ~100 rows; its middle is the least fragile choice.
    chosen = statistics.median_low([threshold for threshold, score in scores.items() if score == best])
    return chosen, best


def timed_verdicts(judge: Judge, examples: Sequence[Example]) -> tuple[list[Verdict], float]:
    start = time.perf_counter()
    results = judge.judge_batch([e.objective for e in examples], [e.response for e in examples])
    return [result.verdict for result in results], time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"label folder (default {DEFAULT_DATA})"
    )
    args = parser.parse_args(argv)
    missing = [
        name
        for name in ("refusal.csv", "refusal_extra.csv", "mini_refusal.csv")
        if not (args.data / name).is_file()
    ]
    if missing:
        print(
            f"error: {args.data} lacks {', '.join(missing)}; pass --data DIR (see shared/data/README.md)",
            file=sys.stderr,
        )
        return 2

    dev, held_out = load_splits(args.data)
    print(
        f"DEV = refusal.csv: {len(dev)} pairs; HELD-OUT = refusal_extra.csv + new mini rows: {len(held_out)}"
    )

    start = time.perf_counter()
    minilm = RefusalMiniLMJudge()
    load_seconds = time.perf_counter() - start
    chosen, dev_best = tune_threshold(minilm, dev)
    print(
        f"threshold tuned on DEV: {chosen:.2f} (DEV accuracy {dev_best:.3f}); "
        f"module SIMILARITY_THRESHOLD = {SIMILARITY_THRESHOLD:.2f}"
    )
    if chosen != SIMILARITY_THRESHOLD:
        print(
            "note: the module constant is not the DEV optimum; update SIMILARITY_THRESHOLD in "
            "worker/judges/refusal.py"
        )

    confusion_header = " ".join(f"{f'{h[:4]}>{p[:4]}':>9}" for h, p in CONFUSION_CELLS)
    print(
        f"\n{'split':<9} {'judge':<16} {'n':>4} {'acc':>6} {'acc 95% CI':>13} {'kappa':>6}  "
        f"{confusion_header}   (human>judge counts)"
    )
    seconds: dict[str, float] = {}
    for split, examples in (("DEV", dev), ("HELD-OUT", held_out)):
        for label, judge in (
            ("phrases", RefusalPhraseJudge()),
            (f"phrases+sim@{minilm.threshold:.2f}", minilm),
        ):
            verdicts, elapsed = timed_verdicts(judge, examples)
            seconds[label] = seconds.get(label, 0.0) + elapsed
            print(report_row(split, label, verdicts, examples))
    print(
        f"\njudging wall time, both splits ({len(dev) + len(held_out)} pairs): "
        + ", ".join(f"{label} {elapsed:.2f} s" for label, elapsed in seconds.items())
        + f" (MiniLM load {load_seconds:.1f} s, on {minilm.embedder.device})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
