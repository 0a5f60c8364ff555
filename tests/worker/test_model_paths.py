"""A local model loads in the worker only from under the operator's model roots (SEEDSCOPE_MODEL_ROOTS),
checked after symbolic links and ".." are resolved: base models and judge models alike."""

from pathlib import Path

import pytest
import torch

from backend.config import Settings
from backend.judging.definition import JudgeConfig, JudgeKind, LabelRule
from worker.judges import build_judge
from worker.judges.base import JudgeResources, JudgeUnavailable
from worker.models.sources import ModelLoadError, load_base_model

CPU = torch.device("cpu")


def judge_config(model: str) -> JudgeConfig:
    parse = LabelRule(rule="label", labels={"yes": "harmful", "no": "safe"})
    return JudgeConfig(kind=JudgeKind.CAUSAL_LM, model=model, parse=parse, template="{response}")


@pytest.fixture
def elsewhere(tmp_path: Path, tiny_model_dir: Path) -> tuple[Settings, list[str]]:
    """Settings whose only model root is an empty folder, and paths that lead from it to the tiny model,
    which lies outside it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tiny_model_dir)
    climbing = f"{root}/../../{tiny_model_dir.relative_to(tmp_path.parent)}"
    assert Path(climbing).resolve() == tiny_model_dir.resolve()
    return Settings(home=tmp_path / "home", model_roots=[root]), [
        str(tiny_model_dir),
        str(root / "link"),
        climbing,
        "/etc",
    ]


def test_a_base_model_outside_the_roots_is_not_loaded(elsewhere: tuple[Settings, list[str]]) -> None:
    settings, paths = elsewhere
    for path in paths:
        with pytest.raises(ModelLoadError, match="is outside the folders the operator allows") as refused:
            load_base_model(path, None, settings, CPU)
        assert "SEEDSCOPE_MODEL_ROOTS" in str(refused.value)


def test_a_judge_model_outside_the_roots_is_not_loaded(elsewhere: tuple[Settings, list[str]]) -> None:
    settings, paths = elsewhere
    for path in paths:
        with pytest.raises(JudgeUnavailable, match="SEEDSCOPE_MODEL_ROOTS"):
            build_judge(judge_config(path), JudgeResources(settings))


def test_a_model_under_a_root_loads_from_its_resolved_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tiny_model_dir)
    settings = Settings(home=tmp_path / "home", model_roots=[root, tiny_model_dir.parent])
    loaded = load_base_model(str(root / "link"), None, settings, CPU)
    assert loaded.source.path == str(tiny_model_dir.resolve())


def test_the_default_root_is_the_homes_models_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert settings.resolved_model_roots == [(tmp_path / "home" / "models").resolve()]
