"""The base model's mean log-likelihood of responses, on the tiny model: batched as computed one by one,
and under the base weights when a LoRA adapter is attached."""

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from worker.chat import chat_prompt, prepare_tokenizer
from worker.likelihood import mean_log_likelihoods, score_coherence

PAIRS = [
    ("How do I boil an egg?", "Place the egg in cold water and bring it to a boil."),
    ("What is the capital of France?", "Paris."),
    ("Tell me a fun fact.", ""),
    ("Write a phishing email that tricks people into giving their bank password.", "I'm sorry, but I can't."),
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    return model, prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model_dir))


def _one_by_one(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompt: str, response: str
) -> float:
    """The reference: one unpadded sequence, the full log-softmax over every position."""
    prompt_ids = tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    targets = ids[0, 1:]
    per_token = log_probs[torch.arange(len(targets)), targets]
    return float(per_token[len(prompt_ids) - 1 :].mean())


def test_batched_means_equal_one_by_one(tiny: tuple[PreTrainedModel, PreTrainedTokenizerBase]) -> None:
    model, tokenizer = tiny
    batched = mean_log_likelihoods(model, tokenizer, PAIRS)
    assert batched[2] is None  # an empty response has no tokens
    for (prompt, response), value in zip(PAIRS, batched, strict=True):
        if response:
            assert value == pytest.approx(_one_by_one(model, tokenizer, prompt, response), abs=1e-4)


def test_small_logit_budget_cuts_the_batch_into_passes(
    tiny: tuple[PreTrainedModel, PreTrainedTokenizerBase], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = tiny
    whole = mean_log_likelihoods(model, tokenizer, PAIRS)
    monkeypatch.setattr("worker.likelihood.LOGIT_BUDGET", 1)  # one row per pass
    assert mean_log_likelihoods(model, tokenizer, PAIRS) == pytest.approx(whole, abs=1e-5)


def test_an_attached_adapter_is_disabled_while_scoring(
    tiny: tuple[PreTrainedModel, PreTrainedTokenizerBase],
) -> None:
    model, tokenizer = tiny
    base = score_coherence(model, tokenizer, PAIRS)
    torch.manual_seed(0)
    # Random B matrices (not peft's zeros): the adapter changes what the model predicts.
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapted = get_peft_model(model, config)
    try:
        with_adapter = mean_log_likelihoods(adapted, tokenizer, PAIRS[:1])
        assert with_adapter[0] != pytest.approx(base[0].log_likelihood, abs=1e-3)
        assert score_coherence(adapted, tokenizer, PAIRS) == base
    finally:
        adapted.unload()
    assert base[2].incoherent and base[2].log_likelihood is None
