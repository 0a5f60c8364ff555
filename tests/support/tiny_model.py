"""A tiny Llama-architecture chat model built in code, so tests run the real from_pretrained path offline."""

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)

from backend.catalog.builtin import BENIGN_DEMO, HARMFUL_DEMO

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus() -> list[str]:
    texts = [r.text for r in HARMFUL_DEMO.records()]
    texts += [f"{e.prompt} {e.response}" for e in BENIGN_DEMO.records()]
    return [*texts, "I'm sorry, but I can't help with that.", "user", "assistant"]


def _tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE ChatML tokenizer trained on the built-in data."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def _config(tokenizer: PreTrainedTokenizerFast, **extra: object) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **extra,
    )


def build_tiny_chat_model(directory: Path, *, vocab_size: int = 1024, seed: int = 0) -> Path:
    """Save a ~3M-parameter LlamaForCausalLM and a byte-level BPE ChatML tokenizer to `directory`."""
    tokenizer = _tokenizer(vocab_size)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_config(tokenizer))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_tiny_classifier(
    directory: Path, labels: tuple[str, ...] = ("safe", "unsafe"), seed: int = 0
) -> Path:
    """Save a tiny LlamaForSequenceClassification with the given labels and the same tokenizer."""
    tokenizer = _tokenizer(1024)
    torch.manual_seed(seed)
    config = _config(
        tokenizer,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
    )
    LlamaForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
