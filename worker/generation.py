"""Batched generation with fixed batch boundaries, so a resumed run samples exactly like an unbroken one."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from backend.specs import GenerationSpec
from worker.chat import chat_prompt
from worker.device import autocast


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


def plan_batches(
    prompts: Sequence[tuple[int, str]], samples_per_prompt: int, batch_size: int
) -> list[list[GenerationItem]]:
    """Every (prompt, sample) in a fixed order, cut into batches that do not depend on what is done."""
    items = [
        GenerationItem(prompt_id, text, sample)
        for sample in range(samples_per_prompt)
        for prompt_id, text in prompts
    ]
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


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
    """One response per item; the tokenizer must pad on the left (worker.chat.prepare_tokenizer)."""
    device = next(model.parameters()).device
    encoded = tokenizer(
        [chat_prompt(tokenizer, item.prompt) for item in items],
        return_tensors="pt",
        padding=True,
        add_special_tokens=False,
    ).to(device)
    config = _generation_config(model, tokenizer, spec)
    torch.manual_seed(seed)
    with autocast(device):
        output = model.generate(**encoded, generation_config=config)  # type: ignore[operator]  # nn.Module typing
    new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
    stop_ids = _stop_ids(config)
    results = []
    for item, tokens in zip(items, new_tokens, strict=True):
        length = next((i + 1 for i, token in enumerate(tokens) if token in stop_ids), len(tokens))
        text = str(tokenizer.decode(tokens[:length], skip_special_tokens=True)).strip()
        results.append(GeneratedText(item, text, length))
    return results
