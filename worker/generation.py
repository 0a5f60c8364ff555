"""Batched generation on a fixed plan, so a resumed run samples exactly like an unbroken one.

The plan (which (prompt, sample) goes into which batch) depends only on the prompts' token lengths, the
number of samples, max_new_tokens and the token budget, never on what is done or on the memory free at the
moment; each batch is seeded by its index. A run records its budget (worker.pipeline) and keeps it.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from backend.experiment_definition import GenerationSpec
from worker.chat import chat_prompt

# Tokens of KV cache per batch on the CPU: the former fixed batch of 16 sequences at 512 tokens each (the
# demo's 48 prompts and 48 new tokens now fit one batch). Not tuned: CPU memory is rarely the limit.
CPU_TOKEN_BUDGET = 8192
# On a GPU the budget is this share of the memory left after the weights (the rest: activations, logits,
# the allocator's slack), rounded down to a power of two.
GPU_CACHE_SHARE = 0.5


@dataclass(frozen=True)
class GenerationItem:
    prompt_id: int
    prompt: str
    sample_index: int


@dataclass(frozen=True)
class GeneratedText:
    item: GenerationItem
    text: str
    n_new_tokens: int


class GenerationOutOfMemory(RuntimeError):
    """A batch did not fit on the GPU; the message says which setting to lower."""


def prompt_lengths(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], framing: GenerationSpec | None = None
) -> list[int]:
    """Tokens of each prompt as the model sees it (chat template included, as `framing` puts it)."""
    encoded = tokenizer([chat_prompt(tokenizer, p, framing) for p in prompts], add_special_tokens=False)
    return [len(ids) for ids in encoded["input_ids"]]


def plan_batches(
    prompts: Sequence[tuple[int, str]],
    lengths: Sequence[int],
    samples_per_prompt: int,
    max_new_tokens: int,
    token_budget: int,
) -> list[list[GenerationItem]]:
    """Every (prompt, sample), longest prompts first, cut into batches that fit the token budget.

    A batch costs sequences x (its longest prompt + max_new_tokens) tokens of KV cache. Sorting by length
    keeps the padding small; all samples of a prompt share a batch unless they alone exceed the budget.
    """
    order = sorted(range(len(prompts)), key=lambda i: (-lengths[i], i))
    batches: list[list[GenerationItem]] = []
    current: list[GenerationItem] = []
    width = 0  # tokens per sequence in the current batch: its first, longest prompt's
    for i in order:
        prompt_id, text = prompts[i]
        samples = [GenerationItem(prompt_id, text, sample) for sample in range(samples_per_prompt)]
        if current and (len(current) + len(samples)) * width > token_budget:
            batches.append(current)
            current = []
        if not current:
            width = lengths[i] + max_new_tokens
        current.extend(samples)
        fit = max(1, token_budget // width)
        while len(current) > fit:  # one prompt's samples overflow a batch on their own
            batches.append(current[:fit])
            current = current[fit:]
    if current:
        batches.append(current)
    return batches


def plan_generation(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[tuple[int, str]],
    spec: GenerationSpec,
    token_budget: int,
) -> list[list[GenerationItem]]:
    """The batches of every (prompt, sample) `spec` asks for, planned on the prompts' token lengths."""
    lengths = prompt_lengths(tokenizer, [text for _, text in prompts], spec)
    return plan_batches(prompts, lengths, spec.samples_per_prompt, spec.max_new_tokens, token_budget)


def default_token_budget(model: PreTrainedModel, device: torch.device) -> int:
    """The budget a device type gives a model: a constant on the CPU; on a GPU, the KV cache that fits in
    half the card's memory left after the weights. It reads the card's total memory, not what is free at
    the moment, so two runs on the same hardware plan the same batches."""
    if device.type != "cuda":
        return CPU_TOKEN_BUDGET
    config = model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    element = next(model.parameters()).element_size()
    kv_bytes_per_token = 2 * config.num_hidden_layers * kv_heads * head_dim * element
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    total = torch.cuda.get_device_properties(device).total_memory
    tokens = int(GPU_CACHE_SHARE * (0.9 * total - weight_bytes) / kv_bytes_per_token)
    return 1 << (max(tokens, CPU_TOKEN_BUDGET).bit_length() - 1)


def batch_seed(sampling_seed: int, batch_index: int) -> int:
    """An independent seed per batch, derived from the run's sampling seed."""
    return int(np.random.SeedSequence([sampling_seed, batch_index]).generate_state(1)[0])


def _generation_config(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, spec: GenerationSpec):
    # Built from scratch: a model's shipped defaults (its own temperature, say) must not leak in.
    sampling = {"do_sample": True, "temperature": spec.temperature, "top_p": spec.top_p}
    return GenerationConfig(
        max_new_tokens=spec.max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=model.generation_config.eos_token_id or tokenizer.eos_token_id,
        **(sampling if spec.temperature > 0 else {"do_sample": False}),
    )


def _stop_ids(config: GenerationConfig) -> set[int]:
    eos = config.eos_token_id
    return set(eos) if isinstance(eos, list) else {eos}


@torch.inference_mode()
def generate_batch(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[GenerationItem],
    spec: GenerationSpec,
    seed: int,
) -> list[GeneratedText]:
    """One response per item; the tokenizer must pad on the left (worker.chat.prepare_tokenizer).

    No autocast: the weights are already in the precision to compute in (bf16 on a GPU), and decoding is
    bound by per-step overhead that autocast's casts would add to.
    """
    device = next(model.parameters()).device
    encoded = tokenizer(
        [chat_prompt(tokenizer, item.prompt, spec) for item in items],
        return_tensors="pt",
        padding=True,
        add_special_tokens=False,
    ).to(device)
    config = _generation_config(model, tokenizer, spec)
    torch.manual_seed(seed)
    try:
        output = model.generate(**encoded, generation_config=config)  # type: ignore[operator]  # nn.Module typing
    except torch.OutOfMemoryError as error:
        width = encoded["input_ids"].shape[1] + spec.max_new_tokens
        raise GenerationOutOfMemory(
            f"out of GPU memory generating {len(items)} sequences of up to {width} tokens; "
            "set SEEDSCOPE_GENERATION_TOKEN_BUDGET lower "
            "(or free the GPU) and retry the run"
        ) from error
    new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
    stop_ids = _stop_ids(config)
    results = []
    for item, tokens in zip(items, new_tokens, strict=True):
        length = next((i + 1 for i, token in enumerate(tokens) if token in stop_ids), len(tokens))
        text = str(tokenizer.decode(tokens[:length], skip_special_tokens=True)).strip()
        results.append(GeneratedText(item, text, length))
    return results


def generate_batches(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    batches: Iterable[tuple[int, Sequence[GenerationItem]]],
    spec: GenerationSpec,
    sampling_seed: int,
) -> Iterator[list[GeneratedText]]:
    """The responses to each (index in the plan, batch) in turn, each batch seeded by its index, so the
    batches left after an interruption sample as they would have."""
    for index, batch in batches:
        yield generate_batch(model, tokenizer, batch, spec, batch_seed(sampling_seed, index))
