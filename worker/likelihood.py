"""Teacher-forced log-probabilities of responses given their prompts, in one forward pass per batch: the
base model's mean per-token log-likelihood of each response (coherence, with any fine-tuned adapter
disabled: worker.coherence), and the refusal openings' probabilities (worker.refusal_prefix)."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

import torch
from peft import PeftModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from backend.experiment_definition import GenerationSpec
from worker.chat import chat_prompt
from worker.coherence import DEFAULT_RULE, Coherence, CoherenceRule, judge_coherence, text_features

# Logit elements one forward pass may hold (512 MB in fp32): a batch whose responses' logits over the
# vocabulary would take more is cut into passes of fewer rows.
LOGIT_BUDGET = 1 << 27


@contextmanager
def base_weights(model: PreTrainedModel | PeftModel) -> Iterator[None]:
    """The base model's weights: a PeftModel's adapter disabled for the duration, a plain model as it is."""
    with model.disable_adapter() if isinstance(model, PeftModel) else nullcontext():
        yield


@torch.inference_mode()
def response_log_probs(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    framing: GenerationSpec | None = None,
) -> list[torch.Tensor | None]:
    """The log-probability (nats) of each token of each (prompt, response)'s response after the prompt in
    the model's chat template (as `framing` puts it), teacher-forced; None for an empty response."""
    prompt_ids = tokenizer([chat_prompt(tokenizer, p, framing) for p, _ in pairs], add_special_tokens=False)[
        "input_ids"
    ]
    response_ids = tokenizer([r for _, r in pairs], add_special_tokens=False)["input_ids"]
    scored = [i for i, ids in enumerate(response_ids) if ids]
    results: list[torch.Tensor | None] = [None] * len(pairs)
    if not scored:
        return results
    longest = max(len(response_ids[i]) for i in scored)
    rows = max(1, LOGIT_BUDGET // (longest * len(tokenizer)))
    for start in range(0, len(scored), rows):
        chunk = scored[start : start + rows]
        sequences = [prompt_ids[i] + response_ids[i] for i in chunk]
        lengths = [len(response_ids[i]) for i in chunk]
        for i, values in zip(chunk, _response_log_probs(model, tokenizer, sequences, lengths), strict=True):
            results[i] = values
    return results


def mean_log_likelihoods(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    framing: GenerationSpec | None = None,
) -> list[float | None]:
    """Mean log-probability (nats per token) of each (prompt, response)'s response tokens after the
    prompt in the model's chat template; None for an empty response."""
    return [
        None if values is None else float(values.mean())
        for values in response_log_probs(model, tokenizer, pairs, framing)
    ]


def _response_log_probs(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    sequences: list[list[int]],
    response_lengths: list[int],
) -> list[torch.Tensor]:
    """One forward pass over left-padded sequences (every response ends in the last column), keeping only
    the logits that predict response tokens."""
    device = next(model.parameters()).device
    width, keep = max(map(len, sequences)), max(response_lengths)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=device)
    # Left padding: positions count from each sequence's first real token, as in generation.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep + 1
    ).logits[:, :keep]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    token_log_probs = log_probs.gather(-1, input_ids[:, width - keep :].unsqueeze(-1)).squeeze(-1)
    return [row[keep - n :].cpu() for row, n in zip(token_log_probs, response_lengths, strict=True)]


def score_coherence(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    framing: GenerationSpec | None = None,
    rule: CoherenceRule = DEFAULT_RULE,
) -> list[Coherence]:
    """Each (prompt, response)'s coherence, its likelihood under the base model (adapter disabled), the
    prompt put to it as generation put it (`framing`)."""
    with base_weights(model):
        log_likelihoods = mean_log_likelihoods(model, tokenizer, pairs, framing)
    return [
        judge_coherence(text_features(response, prompt), log_likelihood, rule)
        for (prompt, response), log_likelihood in zip(pairs, log_likelihoods, strict=True)
    ]
