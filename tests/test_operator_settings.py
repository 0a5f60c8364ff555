"""The operator's settings for judges and models, as the environment (or docker-compose) writes them."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.config import Settings


def test_they_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SEEDSCOPE_JUDGE_KEY_PROJECTS", '{"SEEDSCOPE_JUDGE_KEY_A": [3, 5], "SEEDSCOPE_JUDGE_KEY_B": "*"}'
    )
    monkeypatch.setenv(
        "SEEDSCOPE_JUDGE_INTERNAL_ENDPOINTS", "http://10.0.0.7:8000/v1, http://vllm.internal/v1"
    )
    monkeypatch.setenv("SEEDSCOPE_MODEL_ROOTS", "/models, /data/more-models")
    settings = Settings()
    assert settings.judge_key_projects == {"SEEDSCOPE_JUDGE_KEY_A": [3, 5], "SEEDSCOPE_JUDGE_KEY_B": "*"}
    assert settings.judge_internal_endpoint_list == ["http://10.0.0.7:8000/v1", "http://vllm.internal/v1"]
    assert settings.resolved_model_roots == [Path("/models"), Path("/data/more-models")]


def test_empty_values_as_docker_compose_passes_them_are_the_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("JUDGE_ENDPOINTS", "JUDGE_INTERNAL_ENDPOINTS", "JUDGE_KEY_PROJECTS", "MODEL_ROOTS"):
        monkeypatch.setenv(f"SEEDSCOPE_{name}", "")
    settings = Settings(home=tmp_path)
    assert (settings.judge_key_projects, settings.judge_internal_endpoint_list) == ({}, [])
    assert settings.resolved_model_roots == [(tmp_path / "models").resolve()]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("judge_endpoints", "https://api.example.org/v1?key=1", "holds a query"),
        ("judge_internal_endpoints", "10.0.0.7:8000", "must be an http:// or https:// URL"),
        ("judge_key_projects", '{"SEEDSCOPE_JUDGE_KEY_A": [0]}', "greater than 0"),
        ("judge_key_projects", "SEEDSCOPE_JUDGE_KEY_A=3", "not JSON"),
    ],
)
def test_a_mistyped_value_stops_the_start(setting: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{setting: value})  # type: ignore[arg-type]
