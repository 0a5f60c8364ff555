"""Local model paths, of base models and judge models, are accepted only under the operator's model roots
(SEEDSCOPE_MODEL_ROOTS), after symbolic links and ".." are resolved; hub ids cannot name a local folder."""

from pathlib import Path

from fastapi.testclient import TestClient

from tests.factories import causal_judge_spec, experiment_spec
from tests.support.responses import refused


def test_judge_and_base_models_load_only_from_the_model_roots(
    client: TestClient, shared_models: Path, models_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    models_dir.mkdir()
    (models_dir / "escape").symlink_to(outside)
    for path in ("/etc", str(models_dir / ".." / "outside"), str(models_dir / "escape")):
        judge = client.post("/api/judges", json=causal_judge_spec(path))
        refused(judge, 422, "outside the folders the operator allows", "SEEDSCOPE_MODEL_ROOTS")
        experiment = client.post("/api/experiments", json=experiment_spec(base_model=path))
        refused(experiment, 422, "SEEDSCOPE_MODEL_ROOTS")
    for hub_id in ("backend/..", "org/..", "../etc", "a--b/c"):
        refused(client.post("/api/experiments", json=experiment_spec(base_model=hub_id)), 422, "neither")
    inside = str(shared_models / "any-model")
    assert client.post("/api/judges", json=causal_judge_spec(inside)).status_code == 201
    assert client.post("/api/experiments", json=experiment_spec(base_model=inside)).status_code == 201
    assert client.post("/api/experiments", json=experiment_spec(base_model="org/model")).status_code == 201
