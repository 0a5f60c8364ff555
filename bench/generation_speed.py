"""Generation and LoRA-training speed of the project's own path against plain HF/peft, in the same run.

    python bench/generation_speed.py            # GPU mode when CUDA is available, else CPU mode
    python bench/generation_speed.py --cpu      # CPU mode: the tiny test model, seconds (CI's smoke test)
    python bench/generation_speed.py --json OUT.json

What "the project's path" is: an experiment's evaluation as the worker runs it (worker.pipeline.generate
without the database writes): the batch plan (prompt_lengths, plan_batches, default_token_budget), the
LoRA adapter attached unmerged (adapter_attached), generate_batch per batch with its seed, for each seed.
The anchor is plain HF `generate` on the same weights, the same prompts in their given order, a fixed
batch of 64, no adapter, measured in the same process right after. A third case generates the same runs
together in mixed-adapter batches (peft `adapter_names`), a design the worker does not use, measured to
decide whether it should. Training: worker.training.train_lora against a plain peft loop on the same base
weights, batch and sequence length.

GPU mode builds random-init Llama shapes in memory (bf16, as the worker loads them on a GPU), 1.5B
(5 seeds x 320 prompts x 256 new tokens) and 8B (1 seed), with end-of-sequence never produced so every
sequence decodes all its tokens; targets on one H200: >= 10,000 generated tokens/s and >= 3x the anchor.
CPU mode loads the tiny test model through the worker's loader (fp32) on a scaled-down evaluation; its
figures say nothing about GPUs.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

# The tiny model builder lives with the tests, at the project root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.catalog.builtin import HARMFUL_DEMO
from backend.catalog.records import ExampleRecord
from backend.config import Settings
from backend.experiment_definition import GenerationSpec, LoraSpec, TrainingSpec
from tests.support.tiny_model import build_tiny_chat_model
from worker.chat import chat_prompt, pad_batch, prepare_tokenizer, training_feature
from worker.generation import (
    GenerationItem,
    batch_seed,
    default_token_budget,
    generate_batch,
    plan_batches,
    prompt_lengths,
)
from worker.models.sources import load_base_model
from worker.pipeline import adapter_attached
from worker.training import TrainingSeeds, build_lora_config, train_lora

ANCHOR_BATCH = 64
TARGET_TOKENS_PER_S, TARGET_RATIO = 10_000, 3.0
VOCAB = 128_256
SHAPES = {  # Llama 3.2-1B-like (1.5B parameters with untied embeddings) and Llama 3.1-8B
    "1.5B": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
    },
    "8B": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
    },
}
ADAPTER = LoraSpec(rank=16, alpha=32, dropout=0.0)  # attention-only, the project's default targets


@dataclass(frozen=True)
class Workload:
    shape: str
    seeds: int
    prompts: int
    new_tokens: int
    anchor_sequences: int  # the anchor runs on the first ones only: its tokens/s is steady after a batch
    train_steps: int
    train_batch: int
    train_length: int


GPU_WORKLOADS = [
    Workload(
        "1.5B",
        seeds=5,
        prompts=320,
        new_tokens=256,
        anchor_sequences=256,
        train_steps=8,
        train_batch=16,
        train_length=512,
    ),
    Workload(
        "8B",
        seeds=1,
        prompts=320,
        new_tokens=256,
        anchor_sequences=128,
        train_steps=6,
        train_batch=8,
        train_length=512,
    ),
]
CPU_WORKLOAD = Workload(
    "tiny",
    seeds=2,
    prompts=24,
    new_tokens=12,
    anchor_sequences=24,
    train_steps=6,
    train_batch=4,
    train_length=64,
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prompt_texts(n: int) -> list[str]:
    """n harmful-request prompts of varied length: the built-in set, then variants of it."""
    base = [record.text for record in HARMFUL_DEMO.records()]
    return [
        text if i < len(base) else f"{text} Answer in {2 + i // len(base)} steps."
        for i, text in enumerate(base * (n // len(base) + 1))
    ][:n]


def random_llama(shape: str, tokenizer: PreTrainedTokenizerBase, device: torch.device) -> PreTrainedModel:
    """A random-init Llama of `shape` in bf16 on `device`; end-of-sequence is never produced."""
    config = LlamaConfig(
        vocab_size=VOCAB,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=VOCAB - 1,
        pad_token_id=tokenizer.pad_token_id,
        **SHAPES[shape],
    )
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with device:
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    model.generation_config.eos_token_id = VOCAB - 1
    return model.eval()


def save_adapter(model: PreTrainedModel, directory: Path, seed: int) -> Path:
    """A LoRA adapter for `model` saved to disk, as a fine-tuning run leaves one; the model is unchanged."""
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, build_lora_config(ADAPTER))
    peft_model.save_pretrained(str(directory))
    peft_model.unload()
    return directory


def timed(device: torch.device, work: Callable[[], int]) -> tuple[float, int, float]:
    """(seconds, tokens the work reports, peak GPU memory in GiB during it)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    started = time.perf_counter()
    tokens = work()
    sync(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return seconds, tokens, peak


def project_evaluation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    adapters: Sequence[Path],
    texts: Sequence[str],
    spec: GenerationSpec,
) -> int:
    """The worker's generation stage for one fine-tuned run per adapter (seed): tokens generated."""
    device = next(model.parameters()).device
    prompts = list(enumerate(texts))
    plan = plan_batches(
        prompts, prompt_lengths(tokenizer, texts), 1, spec.max_new_tokens, default_token_budget(model, device)
    )
    tokens = 0
    for seed, adapter in enumerate(adapters):
        with adapter_attached(model, adapter) as attached:
            for index, batch in enumerate(plan):
                generated = generate_batch(attached, tokenizer, batch, spec, batch_seed(seed, index))  # type: ignore[arg-type]
                tokens += sum(g.n_new_tokens for g in generated)
    return tokens


@torch.inference_mode()
def mixed_adapter_evaluation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    adapters: Sequence[Path],
    texts: Sequence[str],
    spec: GenerationSpec,
) -> int:
    """NOT the worker's path, measured to decide whether it should be: the same runs generated together,
    each row with its own run's adapter (peft mixed-adapter batches, `adapter_names`), so every decode
    step carries all runs' sequences. Tokens generated."""
    device = next(model.parameters()).device
    peft_model = PeftModel.from_pretrained(model, adapters[0], adapter_name="run0")
    try:
        for index, adapter in enumerate(adapters[1:], start=1):
            peft_model.load_adapter(adapter, adapter_name=f"run{index}")
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.data = parameter.data.to(model.dtype)
        # A prompt's "samples" are the runs: all runs' sequences of a prompt share a batch.
        plan = plan_batches(
            list(enumerate(texts)),
            prompt_lengths(tokenizer, texts),
            len(adapters),
            spec.max_new_tokens,
            default_token_budget(model, device),
        )
        tokens = 0
        for batch in plan:
            chunk = [chat_prompt(tokenizer, item.prompt) for item in batch]
            encoded = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            output = peft_model.generate(
                **encoded,
                adapter_names=[f"run{item.sample_index}" for item in batch],
                **_sampling(tokenizer, spec),
            )
            tokens += int((output[:, encoded["input_ids"].shape[1] :] != tokenizer.pad_token_id).sum())
        return tokens
    finally:
        peft_model.unload()


def _sampling(tokenizer: PreTrainedTokenizerBase, spec: GenerationSpec) -> dict[str, object]:
    return {
        "max_new_tokens": spec.max_new_tokens,
        "do_sample": True,
        "temperature": spec.temperature,
        "top_p": spec.top_p,
        "pad_token_id": tokenizer.pad_token_id,
    }


@torch.inference_mode()
def plain_generate(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], spec: GenerationSpec
) -> int:
    """Plain HF generate, batches of 64 in the prompts' order, no adapter: tokens generated."""
    device = next(model.parameters()).device
    tokens = 0
    for start in range(0, len(texts), ANCHOR_BATCH):
        chunk = [chat_prompt(tokenizer, text) for text in texts[start : start + ANCHOR_BATCH]]
        encoded = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        output = model.generate(**encoded, **_sampling(tokenizer, spec))  # type: ignore[operator]
        tokens += int((output[:, encoded["input_ids"].shape[1] :] != tokenizer.pad_token_id).sum())
    return tokens


def training_examples(n: int, length: int) -> list[ExampleRecord]:
    answer = " ".join(["The capital of France is Paris and two plus two is four."] * (length // 8))
    return [ExampleRecord(prompt=f"Question {i}: tell me about it.", response=answer) for i in range(n)]


def project_training(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, workload: Workload) -> int:
    """worker.training.train_lora on the cached base as the finetune stage runs it: tokens trained on."""
    n = workload.train_steps * workload.train_batch
    training = TrainingSpec(
        learning_rate=1e-4, epochs=1, batch_size=workload.train_batch, max_length=workload.train_length
    )
    peft_model, result = train_lora(
        model,
        tokenizer,
        training_examples(n, workload.train_length),
        ADAPTER,
        training,
        TrainingSeeds(0, 0, 0),
    )
    peft_model.unload()
    return result.steps * workload.train_batch * workload.train_length


def plain_training(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, workload: Workload) -> int:
    """A plain peft loop, same adapter, batches and sequences: tokens trained on."""
    device = next(model.parameters()).device
    features = [
        training_feature(tokenizer, e.prompt, e.response, workload.train_length)
        for e in training_examples(workload.train_steps * workload.train_batch, workload.train_length)
    ]
    torch.manual_seed(0)
    config = LoraConfig(r=ADAPTER.rank, lora_alpha=ADAPTER.alpha, target_modules=list(ADAPTER.target_modules))
    peft_model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)
    peft_model.train()
    for start in range(0, len(features), workload.train_batch):
        batch = pad_batch(features[start : start + workload.train_batch], tokenizer.pad_token_id)
        tensors = {key: torch.tensor(value, device=device) for key, value in batch.items()}
        loss = peft_model(**tensors).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    peft_model.eval()
    peft_model.unload()
    return workload.train_steps * workload.train_batch * workload.train_length


@dataclass(frozen=True)
class Case:
    kind: str  # generation | training
    who: str  # project | anchor
    label: str
    work: Callable[[], int]  # returns the tokens it generated or trained on


def measure(
    workload: Workload,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    work_dir: Path,
    repeats: int,
) -> list[dict[str, object]]:
    """Every case `repeats` times, taking turns so that load from elsewhere hits them alike; each row is
    the fastest repetition, with the median beside it."""
    device = next(model.parameters()).device
    texts = prompt_texts(workload.prompts)
    spec = GenerationSpec(temperature=0.7, top_p=0.95, max_new_tokens=workload.new_tokens)
    adapters = [
        save_adapter(model, work_dir / f"adapter-{workload.shape}-{s}", s) for s in range(workload.seeds)
    ]
    budget = default_token_budget(model, device)
    anchor_texts = texts[: workload.anchor_sequences]
    training = f"r{ADAPTER.rank}, batch {workload.train_batch} x {workload.train_length} tokens"
    cases = [
        Case(
            "generation",
            "project",
            f"{workload.seeds} seeds x {workload.prompts} prompts, LoRA attached, token budget {budget}",
            lambda: project_evaluation(model, tokenizer, adapters, texts, spec),
        ),
        Case(
            "generation",
            "mixed-adapter batches",
            f"{workload.seeds} runs' adapters in every batch (not used by the worker)",
            lambda: mixed_adapter_evaluation(model, tokenizer, adapters, texts, spec),
        ),
        Case(
            "generation",
            "anchor",
            f"plain HF generate, batch {ANCHOR_BATCH}, {len(anchor_texts)} prompts",
            lambda: plain_generate(model, tokenizer, anchor_texts, spec),
        ),
        Case(
            "training",
            "project",
            f"train_lora, {training}",
            lambda: project_training(model, tokenizer, workload),
        ),
        Case(
            "training",
            "anchor",
            f"plain peft loop, {training}",
            lambda: plain_training(model, tokenizer, workload),
        ),
    ]
    # Warm-up (kernels, allocator, caches), with and without an adapter, before anything is timed.
    warm_up, few = spec.model_copy(update={"max_new_tokens": 4}), [GenerationItem(0, texts[0], 0)] * 4
    generate_batch(model, tokenizer, few, warm_up, 0)
    with adapter_attached(model, adapters[0]) as attached:
        generate_batch(attached, tokenizer, few, warm_up, 0)  # type: ignore[arg-type]
    runs: dict[str, list[tuple[float, int, float]]] = {case.label: [] for case in cases}
    for _ in range(repeats):
        for case in cases:
            runs[case.label].append(timed(device, case.work))
    rows: list[dict[str, object]] = []
    for case in cases:
        seconds, tokens, _ = min(runs[case.label])
        rows.append(
            {
                "shape": workload.shape,
                "kind": case.kind,
                "who": case.who,
                "case": case.label,
                "seconds": round(seconds, 2),
                "median_seconds": round(statistics.median(s for s, _, _ in runs[case.label]), 2),
                "tokens": tokens,
                "tokens_per_s": round(tokens / seconds, 1),
                "peak_gib": round(max(p for _, _, p in runs[case.label]), 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def summarise(rows: list[dict[str, object]], gpu: bool) -> list[str]:
    lines = []
    for shape in dict.fromkeys(str(r["shape"]) for r in rows):
        speed = {(r["kind"], r["who"]): float(r["tokens_per_s"]) for r in rows if r["shape"] == shape}  # type: ignore[arg-type]
        peak = next(r["peak_gib"] for r in rows if r["shape"] == shape and r["who"] == "project")
        ours, anchor = speed["generation", "project"], speed["generation", "anchor"]
        train_ours, train_anchor = speed["training", "project"], speed["training", "anchor"]
        mixed = speed["generation", "mixed-adapter batches"]
        line = (
            f"{shape}: generation {ours:,.0f} tok/s vs plain HF {anchor:,.0f} tok/s = {ours / anchor:.2f}x "
            f"(peak {peak} GiB); mixed-adapter batches {mixed:,.0f} tok/s = {mixed / ours:.2f}x ours; "
            f"LoRA training {train_ours:,.0f} vs {train_anchor:,.0f} tok/s = {train_ours / train_anchor:.2f}x"
        )
        if gpu and shape == "1.5B":
            met = ours >= TARGET_TOKENS_PER_S and ours / anchor >= TARGET_RATIO
            target = f">= {TARGET_TOKENS_PER_S:,} tok/s and >= {TARGET_RATIO:.0f}x"
            line += f"; H200 target ({target}): {'met' if met else 'NOT met'}"
        lines.append(line)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", action="store_true", help="CPU mode even when a GPU is present")
    parser.add_argument(
        "--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES), help="GPU mode only"
    )
    parser.add_argument("--json", type=Path, help="also write every row and the summary here")
    parser.add_argument(
        "--repeats", type=int, help="repetitions per case (default: 5 on the CPU, 1 on a GPU)"
    )
    args = parser.parse_args(argv)
    gpu = torch.cuda.is_available() and not args.cpu
    repeats = args.repeats or (1 if gpu else 5)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        work_dir = Path(scratch)
        # Under the home's models folder: the default SEEDSCOPE_MODEL_ROOTS, where local models may load from.
        settings = Settings(home=work_dir)
        model_dir = build_tiny_chat_model(settings.model_cache_dir / "tiny")
        if gpu:
            device = torch.device("cuda")
            tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(model_dir))
            for workload in (w for w in GPU_WORKLOADS if w.shape in args.shapes):
                model = random_llama(workload.shape, tokenizer, device)
                rows += measure(workload, model, tokenizer, work_dir, repeats)
                del model
                torch.cuda.empty_cache()
        else:
            loaded = load_base_model(str(model_dir), None, settings, torch.device("cpu"))
            rows += measure(CPU_WORKLOAD, loaded.model, loaded.tokenizer, work_dir, repeats)
    environment = {
        "mode": "gpu" if gpu else "cpu",
        "device": torch.cuda.get_device_name() if gpu else f"cpu, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    summary = summarise(rows, gpu)
    print(f"\n{environment}")
    for line in summary:
        print(line)
    if args.json:
        args.json.write_text(
            json.dumps({"environment": environment, "rows": rows, "summary": summary}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
