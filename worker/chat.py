"""Turning prompts and answers into token ids with the model's own chat template."""

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from backend.experiment_definition import GenerationSpec

IGNORE_INDEX = -100  # label value the loss skips


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Left padding for batched generation; models without a pad token pad with end-of-sequence."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def chat_prompt(
    tokenizer: PreTrainedTokenizerBase, prompt: str, framing: GenerationSpec | None = None
) -> str:
    """The prompt as the model sees it at generation time: the generation settings' system turn (if any),
    a user turn, then the assistant's header; with the chat template off, the plain text (after the system
    prompt and a blank line)."""
    system = framing.system_prompt if framing is not None else None
    if framing is not None and not framing.chat_template:
        return prompt if system is None else f"{system}\n\n{prompt}"
    turns = [{"role": "system", "content": system}] if system is not None else []
    return str(
        tokenizer.apply_chat_template(
            [*turns, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    )


@dataclass(frozen=True)
class TrainingFeature:
    input_ids: list[int]
    labels: list[int]


def training_feature(
    tokenizer: PreTrainedTokenizerBase, prompt: str, response: str, max_length: int
) -> TrainingFeature:
    """Token ids of a whole chat exchange; only the assistant's answer is learned (prompt labels masked)."""
    prompt_ids = tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    full_text = str(
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], tokenize=False
        )
    )
    input_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"][:max_length]
    n_prompt = min(len(prompt_ids), len(input_ids))
    return TrainingFeature(input_ids, [IGNORE_INDEX] * n_prompt + input_ids[n_prompt:])


def pad_batch(features: Sequence[TrainingFeature], pad_token_id: int) -> dict[str, list[list[int]]]:
    """Right-pad a training batch (the loss ignores the padding)."""
    width = max(len(f.input_ids) for f in features)
    input_ids, labels, attention_mask = [], [], []
    for feature in features:
        padding = width - len(feature.input_ids)
        input_ids.append(feature.input_ids + [pad_token_id] * padding)
        labels.append(feature.labels + [IGNORE_INDEX] * padding)
        attention_mask.append([1] * len(feature.input_ids) + [0] * padding)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
