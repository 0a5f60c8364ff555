"""How much faster the refusal-prefix score is with the prompt's cache shared by its openings:
`python bench/refusal_prefix_speed.py [--prompts 48] [--repeats 2]`.

What it measures: the wall-clock time to score the built-in harmful demo prompts with the built-in refusal
openings (backend.refusal_openings.PHRASES) on the embedded SmolLM2-135M-Instruct, on this machine's
device, two ways: as the worker scores them (worker.refusal_prefix: one pass over the chat-templated prompt,
its attention cache repeated for every opening, then one pass over the openings' own tokens), and the
baseline, one teacher-forced pass over every (prompt, opening) sequence (worker.likelihood's
response_log_probs, batched as coherence is scored). Each is timed --repeats times, alternating; the
medians and their ratio are printed, and the two ways' scores must agree to a relative 1e-3, or the script
fails. Nothing here asserts on time.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.config import Settings
from backend.refusal_openings import PHRASES
from worker.device import pick_device
from worker.likelihood import response_log_probs
from worker.models.sources import load_base_model
from worker.refusal_prefix import refusal_prefix_scores

REPO = Path(__file__).resolve().parents[1]
PROMPTS = REPO / "backend" / "catalog" / "data" / "harmful-demo-v1.jsonl"
MODEL = "embedded:smollm2-135m-instruct"
PROMPTS_PER_PASS = 16  # as the worker batches them (worker.pipeline.PREFIX_PROMPTS_PER_PASS)


def one_pass_per_opening(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str]
) -> list[float]:
    """The baseline: every (prompt, opening) sequence teacher-forced in full."""
    pairs = [(prompt, opening) for prompt in prompts for opening in PHRASES]
    values = response_log_probs(model, tokenizer, pairs)
    probabilities = [float(v.double().sum().exp()) for v in values if v is not None]
    n = len(PHRASES)
    return [min(sum(probabilities[i * n : (i + 1) * n]), 1.0) for i in range(len(prompts))]


def shared_prompt_cache(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str]
) -> list[float]:
    return refusal_prefix_scores(model, tokenizer, [(prompt, PHRASES) for prompt in prompts])


def timed(score: Callable[[list[str]], list[float]], prompts: list[str]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    scores = [
        value
        for start in range(0, len(prompts), PROMPTS_PER_PASS)
        for value in score(prompts[start : start + PROMPTS_PER_PASS])
    ]
    return time.perf_counter() - started, scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    prompts = [json.loads(line)["prompt"] for line in PROMPTS.read_text().splitlines()][: args.prompts]
    settings = Settings()
    device = pick_device(settings.device)
    loaded = load_base_model(MODEL, None, settings, device)
    model, tokenizer = loaded.model.eval(), loaded.tokenizer
    ways = {
        "one pass per (prompt, opening)": lambda p: one_pass_per_opening(model, tokenizer, p),
        "prompt cache shared by openings": lambda p: shared_prompt_cache(model, tokenizer, p),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    scores: dict[str, list[float]] = {}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for name, way in ways.items():
                elapsed, scores[name] = timed(way, prompts)
                seconds[name].append(elapsed)
    baseline, shared = (scores[name] for name in ways)
    worst = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(baseline, shared, strict=True))
    print(
        f"{len(prompts)} prompts x {len(PHRASES)} openings, {MODEL} on {device}, "
        f"torch threads {torch.get_num_threads()}, {args.repeats} repeats"
    )
    for name, times in seconds.items():
        print(
            f"  {name:34s} median {statistics.median(times):7.2f} s  ({', '.join(f'{t:.2f}' for t in times)})"
        )
    ratio = statistics.median(seconds["one pass per (prompt, opening)"]) / statistics.median(
        seconds["prompt cache shared by openings"]
    )
    print(f"  speed-up (baseline / shared)      {ratio:7.2f}x")
    print(f"  largest relative difference of the scores: {worst:.2e}")
    if worst > 1e-3:
        print("FAIL: the two ways disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
