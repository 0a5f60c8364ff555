"""Resolve a base-model reference to loaded weights, and say exactly what was loaded."""

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from backend.catalog.base_models import (
    EMBEDDED_PREFIX,
    SMOLLM2_ALIGNED,
    SMOLLM2_INSTRUCT,
    check_model_reference,
    local_model_path,
)
from backend.config import Settings
from backend.provenance import ModelSource
from worker.chat import prepare_tokenizer
from worker.device import weights_dtype
from worker.models.embedded import ensure_instruct_model
from worker.models.files import weights_sha256


class ModelLoadError(RuntimeError):
    """A base model that cannot be found or read; the message is shown on the run."""


@dataclass(frozen=True)
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    # What the run's provenance records about the base model.
    source: ModelSource


def local_directory(reference: str, settings: Settings) -> Path | None:
    """The directory an embedded or local reference loads from (preparing it if needed); None for hub ids.
    A local path must lie under the model roots (ValueError otherwise); it is returned resolved, so the
    folder checked is the folder loaded."""
    if reference == SMOLLM2_INSTRUCT:
        return ensure_instruct_model(settings.model_cache_dir)
    if reference == SMOLLM2_ALIGNED:
        from worker.alignment import ensure_aligned_model

        return ensure_aligned_model(settings)
    if reference.startswith(EMBEDDED_PREFIX):
        check_model_reference(reference)  # raises with the list of known names
    return local_model_path(reference, settings.resolved_model_roots)


def load_base_model(
    reference: str, revision: str | None, settings: Settings, device: torch.device
) -> LoadedModel:
    try:
        check_model_reference(reference)
        directory = local_directory(reference, settings)
        if directory is not None and not (directory / "config.json").is_file():
            raise FileNotFoundError(f"no config.json in {directory}")
        location = str(directory) if directory is not None else reference
        own_dtype = _dtype_of(AutoConfig.from_pretrained(location, revision=revision))
        model = AutoModelForCausalLM.from_pretrained(
            location,
            revision=revision,
            dtype=weights_dtype(device, own_dtype),
            # Straight onto the GPU, without a copy of the weights in host memory first.
            device_map=str(device) if device.type == "cuda" else None,
        )
        tokenizer = AutoTokenizer.from_pretrained(location, revision=revision)
    except Exception as error:  # every loader failure becomes one readable message on the run
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"could not load base model {reference!r}: {detail}") from error
    source = ModelSource(
        reference=reference,
        revision=revision,
        path=location,
        weights_sha256=weights_sha256(directory) if directory is not None else None,
        commit=getattr(model.config, "_commit_hash", None),
    )
    return LoadedModel(model.eval(), prepare_tokenizer(tokenizer), source)


def _dtype_of(config: PretrainedConfig) -> torch.dtype | None:
    """The dtype a model's config declares (`dtype`, formerly `torch_dtype`), if any."""
    declared = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    return declared if isinstance(declared, torch.dtype) else None
