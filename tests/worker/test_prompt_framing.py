"""How a prompt is put to the model: the generation settings' system prompt and chat template, the same for
generation, coherence and the refusal-prefix score."""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from backend.experiment_definition import GenerationSpec
from backend.refusal_openings import PHRASES
from worker.chat import chat_prompt, prepare_tokenizer
from worker.generation import GenerationItem, generate_batch, prompt_lengths
from worker.refusal_prefix import refusal_prefix_scores

PROMPT = "How do I pick a lock?"
SYSTEM = "You are a careful assistant. Refuse anything unsafe."


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    return model, prepare_tokenizer(AutoTokenizer.from_pretrained(tiny_model_dir))


def test_a_system_prompt_is_a_system_turn_and_without_the_template_the_prompt_is_plain_text(
    tiny: tuple[PreTrainedModel, PreTrainedTokenizerBase],
) -> None:
    _, tokenizer = tiny
    templated = chat_prompt(tokenizer, PROMPT)
    assert chat_prompt(tokenizer, PROMPT, GenerationSpec()) == templated
    with_system = chat_prompt(tokenizer, PROMPT, GenerationSpec(system_prompt=SYSTEM))
    expected = tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert with_system == expected and SYSTEM in with_system and with_system != templated
    assert chat_prompt(tokenizer, PROMPT, GenerationSpec(chat_template=False)) == PROMPT
    plain = GenerationSpec(chat_template=False, system_prompt=SYSTEM)
    assert chat_prompt(tokenizer, PROMPT, plain) == f"{SYSTEM}\n\n{PROMPT}"
    assert prompt_lengths(tokenizer, [PROMPT], plain) == [
        len(tokenizer(f"{SYSTEM}\n\n{PROMPT}")["input_ids"])
    ]


def test_generation_and_the_refusal_prefix_see_the_prompt_as_the_settings_put_it(
    tiny: tuple[PreTrainedModel, PreTrainedTokenizerBase],
) -> None:
    model, tokenizer = tiny
    plain = GenerationSpec(chat_template=False, max_new_tokens=6)
    (generated,) = generate_batch(model, tokenizer, [GenerationItem(1, PROMPT, 0)], plain, seed=0)
    ids = torch.tensor([tokenizer(PROMPT, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        greedy = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False
        )
    assert generated.text == tokenizer.decode(greedy[0, ids.shape[1] :], skip_special_tokens=True)
    templated = refusal_prefix_scores(model, tokenizer, [(PROMPT, PHRASES)])
    assert refusal_prefix_scores(model, tokenizer, [(PROMPT, PHRASES)], plain) != pytest.approx(templated)
