"""Judges built from their stored definitions, in the worker.

A registry maps each kind to the code that builds it, by import path: a kind's libraries are imported only
when a definition of that kind is first used. Built judges hold models, so a few are kept per process.
"""

import gc
import importlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable

from backend.judging.definition import JudgeConfig, JudgeKind
from backend.patterns import UnsupportedPattern, compile_pattern
from worker.judges.base import Judge, JudgeResources, JudgeUnavailable

# kind -> "module:attribute" of a callable (JudgeConfig, JudgeResources) -> Judge.
REGISTRY: dict[JudgeKind, str] = {
    JudgeKind.REFUSAL_PHRASES: "worker.judges.refusal:build_phrase_judge",
    JudgeKind.REFUSAL_MINILM: "worker.judges.refusal:build_minilm_judge",
    JudgeKind.CAUSAL_LM: "worker.judges.generative:build_causal_lm_judge",
    JudgeKind.SEQUENCE_CLASSIFIER: "worker.judges.generative:build_sequence_classifier_judge",
    JudgeKind.OPENAI_CHAT: "worker.judges.llm:build_openai_chat_judge",
}


def build_judge(config: JudgeConfig, resources: JudgeResources) -> Judge:
    # A definition stored before parse rules ran on RE2 may hold a pattern RE2 refuses: say so once, here.
    pattern = getattr(config.parse, "pattern", None)
    if pattern is not None:
        try:
            compile_pattern(pattern, ignore_case=True)
        except UnsupportedPattern as error:
            raise JudgeUnavailable(f"the definition's parse rule: {error}") from None
    if config.kind == JudgeKind.IMPORTED:
        raise JudgeUnavailable("an imported judge judges nothing: its verdicts came with its results")
    module_name, attribute = REGISTRY[config.kind].split(":")
    factory: Callable[[JudgeConfig, JudgeResources], Judge] = getattr(
        importlib.import_module(module_name), attribute
    )
    return factory(config, resources)


class _LoadedJudges:
    """The judges this process built, by the definition's project and content hash (what a judge may do,
    such as sending an API key, depends on its project), the least recently used dropped first beyond
    `settings.judges_kept`."""

    def __init__(self) -> None:
        self._judges: OrderedDict[tuple[int | None, str], Judge] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, config: JudgeConfig, resources: JudgeResources) -> Judge:
        key = (resources.project_id, config.content_hash())
        with self._lock:
            if key in self._judges:
                self._judges.move_to_end(key)
                return self._judges[key]
            while len(self._judges) >= max(resources.settings.judges_kept, 1):
                self._judges.popitem(last=False)
                _release_memory()
            judge = build_judge(config, resources)
            self._judges[key] = judge
            return judge


def _release_memory() -> None:
    """Give a dropped judge's GPU memory back before the next one loads."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


_LOADED = _LoadedJudges()


def load_judge(config: JudgeConfig, resources: JudgeResources) -> Judge:
    """The judge of a definition, built once per process while it stays among the recently used."""
    return _LOADED.get(config, resources)
