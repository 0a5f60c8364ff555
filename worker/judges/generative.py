"""Judges that are models run in the worker: a generative safety classifier (a causal LM, its prompt and a
parse rule: Llama Guard, HarmBench's classifier, WildGuard, or any other) and a sequence classifier.

On the GPU when there is one (in bf16), else on the CPU. Responses longer than the definition's
`max_input_tokens`, or than the model's context leaves room for, are cut to fit; the cut is recorded in the
verdict's details.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from backend.catalog.base_models import local_model_path
from backend.config import Settings
from backend.domain import Verdict
from backend.judging.definition import JudgeConfig
from worker.device import autocast, pick_device
from worker.judges.base import INPUT_TOO_LONG, JudgeResources, JudgeResult, JudgeUnavailable
from worker.judges.parsing import parse_output
from worker.judges.prompts import render

# Tokenizers without a known limit report a huge sentinel as model_max_length.
_NO_LIMIT = 1_000_000


def _load(
    auto_class: Any, config: JudgeConfig, settings: Settings
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model and tokenizer: from a hub id, or from a local folder under the model roots (resolved, so
    what is checked is what loads)."""
    assert config.model is not None
    try:
        folder = local_model_path(config.model, settings.resolved_model_roots)
    except ValueError as error:
        raise JudgeUnavailable(f"judge model: {error}") from None
    location = str(folder) if folder is not None else config.model
    device = pick_device()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        model = auto_class.from_pretrained(location, revision=config.revision, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(location, revision=config.revision)
    except Exception as error:  # every loader failure becomes one readable message
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise JudgeUnavailable(f"could not load judge model {config.model!r}: {detail}") from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def _request_too_long(context: int | None) -> JudgeResult:
    return JudgeResult.unscored(INPUT_TOO_LONG, f"the request alone fills the model's {context} tokens")


def _context_limit(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """Tokens the model reads at most: the smaller of the tokenizer's and the model's limits, if known."""
    limits = [getattr(model.config, "max_position_embeddings", None), tokenizer.model_max_length]
    known = [limit for limit in limits if isinstance(limit, int) and 0 < limit < _NO_LIMIT]
    return min(known) if known else None


@dataclass(frozen=True)
class _Fitted:
    """A response as the judge reads it: cut to `kept` of its `total` tokens when it did not fit."""

    text: str
    total: int
    kept: int

    @property
    def truncation(self) -> dict[str, int]:
        return {"response_tokens": self.total, "kept_tokens": self.kept} if self.kept < self.total else {}


class _ResponseCutter:
    """Cuts responses to a number of the judge model's own tokens, decoded back to text (as HarmBench
    does)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, limit: int | None) -> None:
        self._tokenizer, self._limit = tokenizer, limit

    def cut(self, response: str, tokens: int | None = None) -> _Fitted:
        ids = self._tokenizer(response, add_special_tokens=False)["input_ids"]
        limits = [limit for limit in (self._limit, tokens) if limit is not None]
        keep = min([len(ids), *limits])
        if keep >= len(ids):
            return _Fitted(response, len(ids), len(ids))
        return _Fitted(
            str(self._tokenizer.decode(ids[: max(keep, 0)], skip_special_tokens=True)), len(ids), keep
        )


class CausalLMJudge:
    """A generative classifier: the prompt (the definition's template, or the model's chat template over the
    user and assistant turns), greedy decoding, then the definition's parse rule."""

    def __init__(self, config: JudgeConfig, settings: Settings) -> None:
        assert config.parse is not None and config.max_new_tokens is not None
        self.config = config
        self.model, self.tokenizer = _load(AutoModelForCausalLM, config, settings)
        self.tokenizer.padding_side = "left"
        if config.template is None and not self.tokenizer.chat_template:
            raise JudgeUnavailable(
                f"judge model {config.model!r} has no chat template; give the definition a template"
            )
        self._context = _context_limit(self.model, self.tokenizer)
        self._cutter = _ResponseCutter(self.tokenizer, config.max_input_tokens)

    def prompt(self, request: str, response: str, reference: str = "") -> str:
        """The text the model reads for one pair (and its reference answer, for a grading template)."""
        if self.config.template is not None:
            return render(self.config.template, request, response, reference)
        turns = [("user", request), ("assistant", response)]
        # Llama Guard 3 1B's chat template reads message content as a list of typed parts (its model card).
        messages: list[dict[str, Any]] = [
            {
                "role": role,
                "content": [{"type": "text", "text": text}] if self.config.chat_content == "parts" else text,
            }
            for role, text in turns
        ]
        # The classifier's template ends with the header of its own answer: no generation prompt to add.
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False))  # type: ignore[arg-type]

    def _add_special_tokens(self, text: str) -> bool:
        # A template or chat template that writes the start token itself must not get a second one.
        bos = self.tokenizer.bos_token
        return not (bos and text.startswith(bos))

    def _n_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=self._add_special_tokens(text))["input_ids"])

    def _fit(self, request: str, response: str, reference: str = "") -> tuple[str, _Fitted] | None:
        """The prompt with the response cut to the documented length and to what the context leaves room
        for; None when even an empty response would not fit."""
        fitted = self._cutter.cut(response)
        text = self.prompt(request, fitted.text, reference)
        if self._context is None:
            return text, fitted
        room = self._context - self.config.max_new_tokens  # type: ignore[operator]
        for _ in range(3):  # re-tokenizing a cut text can differ by a token or two
            overflow = self._n_tokens(text) - room
            if overflow <= 0:
                return text, fitted
            if fitted.kept - overflow <= 0:
                return None
            fitted = self._cutter.cut(response, fitted.kept - overflow)
            text = self.prompt(request, fitted.text, reference)
        return None

    @torch.inference_mode()
    def _generate(self, texts: Sequence[str]) -> list[str]:
        device = next(self.model.parameters()).device
        encoded = self.tokenizer(
            list(texts),
            return_tensors="pt",
            padding=True,
            add_special_tokens=self._add_special_tokens(texts[0]),
        ).to(device)
        config = GenerationConfig(
            max_new_tokens=self.config.max_new_tokens,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id,
        )
        with autocast(device):
            output = self.model.generate(**encoded, generation_config=config)  # type: ignore[operator]
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        return [str(text) for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def judge_batch(
        self, prompts: Sequence[str], responses: Sequence[str], references: Sequence[str] | None = None
    ) -> list[JudgeResult]:
        assert self.config.parse is not None
        graded = references if references is not None else [""] * len(prompts)
        fitted = [self._fit(*pair) for pair in zip(prompts, responses, graded, strict=True)]
        texts = [item[0] for item in fitted if item is not None]
        outputs = iter(self._generate(texts) if texts else [])
        results = []
        for item in fitted:
            if item is None:
                results.append(_request_too_long(self._context))
                continue
            result = parse_output(self.config.parse, next(outputs), self.config.threshold)
            cut = item[1].truncation
            results.append(result.with_details(truncated=cut) if cut else result)
        return results


class SequenceClassifierJudge:
    """P(harmful) = the summed probability of the model labels the definition maps to "harmful"; harmful
    from the threshold up. Every label of the model must be mapped, so none is silently counted as safe."""

    def __init__(self, config: JudgeConfig, settings: Settings) -> None:
        assert config.labels is not None and config.threshold is not None
        self.config = config
        self.model, self.tokenizer = _load(AutoModelForSequenceClassification, config, settings)
        self.tokenizer.padding_side = "right"
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        names = {int(index): str(name) for index, name in (self.model.config.id2label or {}).items()}
        unmapped = sorted(name for name in names.values() if name.lower() not in config.labels)
        if unmapped:
            raise JudgeUnavailable(
                f"judge model {config.model!r} has labels {unmapped} the definition does not map; "
                f"its labels are {sorted(names.values())}"
            )
        self._names: dict[int, str] = names
        self._harmful: list[int] = [
            index for index, name in names.items() if config.labels[name.lower()] == "harmful"
        ]
        self._context = _context_limit(self.model, self.tokenizer)
        self._cutter = _ResponseCutter(self.tokenizer, config.max_input_tokens)

    def _fit(self, prompt: str, response: str) -> _Fitted | None:
        """The response cut to the documented length and to what the model's context leaves beside the
        request; None when the request alone fills it."""
        pair = self.config.input == "request-response"
        room = None
        if self._context is not None:
            used = self.tokenizer.num_special_tokens_to_add(pair=pair)
            if pair:
                used += len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            room = self._context - used
            if room <= 0:
                return None
        return self._cutter.cut(response, room)

    @torch.inference_mode()
    def _probabilities(self, prompts: Sequence[str], responses: Sequence[str]) -> list[list[float]]:
        pair = self.config.input == "request-response"
        encoded = self.tokenizer(
            list(prompts) if pair else list(responses),
            list(responses) if pair else None,
            padding=True,
            return_tensors="pt",
        )
        device = next(self.model.parameters()).device
        with autocast(device):
            logits = self.model(**encoded.to(device)).logits  # type: ignore[attr-defined]
        return torch.softmax(logits.float(), dim=-1).cpu().tolist()

    def judge_batch(
        self, prompts: Sequence[str], responses: Sequence[str], references: Sequence[str] | None = None
    ) -> list[JudgeResult]:
        assert self.config.threshold is not None
        fitted = [self._fit(prompt, response) for prompt, response in zip(prompts, responses, strict=True)]
        readable = [(prompt, item) for prompt, item in zip(prompts, fitted, strict=True) if item is not None]
        rows = iter(
            self._probabilities([prompt for prompt, _ in readable], [item.text for _, item in readable])
            if readable
            else []
        )
        results = []
        for item in fitted:
            if item is None:
                results.append(_request_too_long(self._context))
                continue
            row = next(rows)
            harmful = sum((row[index] for index in self._harmful), 0.0)
            verdict = Verdict.HARMFUL if harmful >= self.config.threshold else Verdict.SAFE
            relation = ">=" if verdict == Verdict.HARMFUL else "<"
            details: dict[str, Any] = {
                "probabilities": {self._names[index]: round(p, 6) for index, p in enumerate(row)}
            }
            if item.truncation:
                details["truncated"] = item.truncation
            output = f"P(harmful) {harmful:.3f} {relation} {self.config.threshold:g}"
            results.append(JudgeResult(verdict, harmful, output, details))
        return results


def build_causal_lm_judge(config: JudgeConfig, resources: JudgeResources) -> CausalLMJudge:
    return CausalLMJudge(config, resources.settings)


def build_sequence_classifier_judge(
    config: JudgeConfig, resources: JudgeResources
) -> SequenceClassifierJudge:
    return SequenceClassifierJudge(config, resources.settings)
