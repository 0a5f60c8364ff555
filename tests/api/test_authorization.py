"""The authorization matrix: every route of the app, tried by every kind of caller.

The expected status comes from the policy the route declares (backend.api.auth), so this test checks
that each policy does what it says, for every route that uses it. A route missing from REQUESTS below
fails the test: the next engineer who adds a route must say how to call it here.
"""

import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.auth import (
    AnyCredential,
    ChoosesProject,
    DeclaredRoute,
    InExperiment,
    InJudge,
    InProject,
    InRun,
    InValidation,
    Policy,
    Public,
    SharePage,
    SignedIn,
    check_policies,
    declared_routes,
)
from backend.config import Settings
from backend.domain import Role, ShareScope
from backend.migrate import upgrade_to_head
from tests.conftest import TEST_CLIENT_HOST, RecordingQueue
from tests.factories import INSPECT_SAMPLES, experiment_spec
from tests.support.accounts import PASSWORD, USERS, World, build_world

pytestmark = pytest.mark.slow

# Who calls, in this order: the ones a route refuses first, so that a route that changes something (a
# member removed, an experiment deleted) does so only at the end.
CALLERS = ("anonymous", "share-figures", "share-responses", "outsider", "viewer", "editor", "owner")
SHARE_CALLERS = {"share-figures": ShareScope.FIGURES, "share-responses": ShareScope.RESPONSES}
MEMBER_ROLES = {"viewer", "editor", "owner"}

BENCHMARK_JSONL = '{"id": "x1", "prompt": "Explain how to pick a lock.", "category": "crime"}'


def requests(world: World) -> dict[str, tuple[dict, int]]:
    """How to call each route ('METHOD path' as declared): request options (a callable option is called
    with the caller's name), and the status a caller the policy admits gets."""
    spec = experiment_spec(project=world.project_a, benchmark="four-prompts")
    dataset = {"name": "upload", "content": BENCHMARK_JSONL, "project": world.project_a}
    return {
        "POST /api/auth/login": ({"json": {"email": USERS["owner"], "password": PASSWORD}}, 200),
        "POST /api/auth/logout": ({}, 204),
        "GET /login/once": ({"params": {"token": "ssl_not-a-real-token"}}, 303),
        "GET /api/me": ({}, 200),
        "POST /api/auth/password": ({"json": {"current_password": PASSWORD, "new_password": PASSWORD}}, 204),
        "GET /api/tokens": ({}, 200),
        "POST /api/tokens": ({"json": {"name": "matrix"}}, 201),
        "DELETE /api/tokens/{token_id}": ({}, 204),
        "GET /api/projects": ({}, 200),
        "POST /api/projects": ({"json": {"name": "gamma"}}, 201),
        "GET /api/projects/{project_id}": ({}, 200),
        "POST /api/projects/{project_id}/members": ({"json": {"email": USERS["newcomer"]}}, 202),
        "PATCH /api/projects/{project_id}/members/{user_id}": ({"json": {"role": "editor"}}, 200),
        "DELETE /api/projects/{project_id}/members/{user_id}": ({}, 204),
        "GET /api/health": ({}, 200),
        "GET /api/catalog": ({}, 200),
        "POST /api/benchmarks": ({"json": {**dataset, "format": "jsonl"}}, 201),
        "POST /api/training-sets": (
            {"json": {**dataset, "content": '{"prompt": "2+2?", "response": "4"}'}},
            201,
        ),
        "GET /api/judges": ({}, 200),
        # Each admitted caller makes a new version of the same definition (its threshold differs).
        "POST /api/judges": (
            {
                "json": lambda caller: {
                    "name": "alpha-minilm",
                    "kind": "refusal-minilm",
                    "threshold": 0.2 + len(caller) / 100,
                    "project": world.project_a,
                }
            },
            201,
        ),
        "POST /api/judges/yaml": (
            {
                "content": yaml.safe_dump(
                    {"name": "alpha-yaml", "kind": "refusal-phrases", "project": world.project_a}
                ),
                "headers": {"content-type": "application/yaml"},
            },
            201,
        ),
        "GET /api/judges/{judge_id}": ({}, 200),
        "GET /api/validation-sets": ({}, 200),
        "POST /api/validation-sets": (
            {
                "json": {
                    **dataset,
                    "format": "jsonl",
                    "content": '{"request": "Pick a lock?", "response": "Use a wrench.", "label": "harmful"}',
                }
            },
            201,
        ),
        "POST /api/judge-validations": (
            {
                "json": {
                    "judge": "alpha-phrases",
                    "validation_set": "pyrit-refusal",
                    "project": world.project_a,
                }
            },
            201,
        ),
        "GET /api/judge-validations": ({}, 200),
        "GET /api/judge-validations/{validation_id}": ({}, 200),
        "POST /api/judge-validations/{validation_id}/retry": ({}, 200),
        "GET /api/experiments": ({}, 200),
        "POST /api/experiments": ({"json": spec}, 201),
        "POST /api/experiments/yaml": (
            {"content": yaml.safe_dump(spec), "headers": {"content-type": "application/yaml"}},
            201,
        ),
        "GET /api/experiments/draft": ({}, 200),
        "GET /api/experiments/{experiment_id}": ({}, 200),
        "GET /api/experiments/{experiment_id}/state": ({}, 200),
        "DELETE /api/experiments/{experiment_id}": ({}, 204),
        "POST /api/experiments/{experiment_id}/cancel": ({}, 200),
        "POST /api/experiments/{experiment_id}/resume": ({}, 200),
        "POST /api/experiments/plan": ({"json": spec}, 200),
        "POST /api/experiments/import": (
            {
                "json": {
                    "format": "inspect-samples-csv",
                    "content": INSPECT_SAMPLES,
                    "name": "imported",
                    "benchmark": "imported-prompts",
                    "harmful": ["C"],
                    "safe": ["I"],
                    "project": world.project_a,
                }
            },
            201,
        ),
        "POST /api/experiments/{experiment_id}/seeds": ({"json": {"count": 1}}, 201),
        # Condition names are unique in an experiment: each admitted caller adds its own.
        "POST /api/experiments/{experiment_id}/conditions": (
            {"json": lambda caller: {"name": f"by-{caller}"}},
            201,
        ),
        "GET /api/experiments/{experiment_id}/share-links": ({}, 200),
        "POST /api/experiments/{experiment_id}/share-links": ({"json": {"scope": "figures"}}, 201),
        "DELETE /api/experiments/{experiment_id}/share-links/{link_id}": ({}, 204),
        "GET /api/runs/{run_id}": ({}, 200),
        "GET /api/runs/{run_id}/generations": ({}, 200),
        "POST /api/runs/{run_id}/retry": ({}, 200),
        "POST /api/runs/{run_id}/reevaluate": ({"json": {"count": 1}}, 201),
        "GET /api/experiments/{experiment_id}/analysis": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/seeds": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/noise": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/forest": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/categories": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/flips": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/variance": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/power": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/setup-spread": ({}, 200),
        "GET /api/experiments/{experiment_id}/figures/trade-off": ({}, 200),
        # The experiment has no condition with training.evaluate_at: an admitted caller is told so.
        "GET /api/experiments/{experiment_id}/erosion": ({}, 422),
        "GET /api/experiments/{experiment_id}/figures/erosion": ({}, 422),
        "GET /api/experiments/{experiment_id}/prompts": ({}, 200),
        "GET /api/experiments/{experiment_id}/prompts/{prompt_id}/responses": ({}, 200),
        "GET /login": ({}, 200),
        "GET /": ({}, 200),
        "GET /experiments/new": ({}, 200),
        "GET /experiments/{experiment_id}": ({}, 200),
        "GET /runs/{run_id}": ({}, 200),
        "GET /projects": ({}, 200),
        "GET /judges": ({}, 200),
        "GET /validations/{validation_id}": ({}, 200),
        "GET /account": ({}, 200),
        "GET /share/{token}": ({}, 200),
        "GET /share/{token}/runs/{run_id}": ({}, 200),
        "GET /openapi.json": ({}, 200),
        "GET /docs": ({}, 200),
        "GET /static/vendor/plotly.min.js": ({}, 200),
        "GET /static/vendor/swagger-ui-bundle.js": ({}, 200),
        "GET /static/vendor/swagger-ui.css": ({}, 200),
        "GET /datasets": ({}, 200),
        # A definition can judge an experiment once: each admitted caller adds its own.
        "POST /api/experiments/{experiment_id}/judges": (
            {
                "json": lambda caller: {
                    "judges": ["alpha-keywords" if caller == "editor" else "alpha-phrases"]
                }
            },
            201,
        ),
        "POST /api/experiments/{experiment_id}/rescorings/{rescoring_id}/retry": ({}, 200),
        "PUT /api/experiments/{experiment_id}/headline-judge": ({"json": {"judge": "refusal-minilm"}}, 200),
        "POST /api/experiments/{experiment_id}/stress-tests": (
            {"json": {"judge": "refusal-minilm", "size": 10}},
            201,
        ),
        "GET /api/experiments/{experiment_id}/stress-tests": ({}, 200),
        "POST /api/experiments/{experiment_id}/stress-tests/{stress_test_id}/retry": ({}, 200),
        "POST /api/experiments/{experiment_id}/labelling-samples": ({"json": {"size": 4}}, 201),
        "GET /api/experiments/{experiment_id}/labelling-samples": ({}, 200),
        "GET /api/experiments/{experiment_id}/labelling-samples/{sample_id}/items": ({}, 200),
        "PUT /api/experiments/{experiment_id}/labelling-samples/{sample_id}/items/{item_id}/label": (
            {"json": {"label": "harmful"}},
            204,
        ),
        # Nobody has labelled the sample: its results wait until the caller has (see test_labelling).
        "GET /api/experiments/{experiment_id}/labelling-samples/{sample_id}/results": ({}, 409),
        "GET /experiments/{experiment_id}/labelling/{sample_id}": ({}, 200),
        "GET /api/experiments/{experiment_id}/export.csv": ({}, 200),
        "GET /api/experiments/{experiment_id}/export.parquet": ({}, 200),
        "GET /api/experiments/{experiment_id}/export.eee.zip": ({}, 200),
        "GET /api/experiments/{experiment_id}/report.md": ({}, 200),
    }


# Routes whose object belongs to one user: the others get 404, as for another project's data.
ONLY_THE_OWNERS = {"DELETE /api/tokens/{token_id}"}


def path_of(route: DeclaredRoute, world: World) -> str:
    values = {
        "experiment_id": world.experiment_id,
        # Retrying needs a run that is not done; everything else reads or re-evaluates a done one.
        "run_id": world.cancelled_run_id if route.path.endswith("/retry") else world.done_run_id,
        "prompt_id": world.prompt_id,
        "project_id": world.project_a,
        "user_id": world.user_ids["viewer"],
        "link_id": world.share_link_ids[ShareScope.FIGURES],
        "token_id": world.owner_token_id,
        "judge_id": world.judge_id,
        "validation_id": world.validation_id,
        "rescoring_id": world.rescoring_id,
        "stress_test_id": world.stress_test_id,
        "sample_id": world.sample_id,
        "item_id": world.item_id,
        # The run page of a share link needs one that shows responses.
        "token": world.share_tokens[ShareScope.RESPONSES if "/runs/" in route.path else ShareScope.FIGURES],
    }
    return route.path.format(**values)


def credentials(caller: str, world: World) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller in SHARE_CALLERS:
        return world.bearer(SHARE_CALLERS[caller])
    return world.cookie(caller)


def expected_status(policy: Policy, caller: str, success: int, only_the_owners: bool) -> int:
    """What the declared policy promises this caller."""
    if isinstance(policy, Public | SharePage):
        return success
    if caller == "anonymous":
        return 303 if policy.page else 401
    if isinstance(policy, AnyCredential):
        return success
    if caller in SHARE_CALLERS:
        shared = isinstance(policy, InExperiment | InRun) and policy.share is not None
        if shared and SHARE_CALLERS[caller].covers(policy.share):
            return success
        return 403
    if isinstance(policy, SignedIn):
        return 404 if only_the_owners and caller != "owner" else success
    # Project data: the outsider (a member of project B only) must not learn that it exists.
    if caller not in MEMBER_ROLES:
        return 422 if isinstance(policy, ChoosesProject) else 404
    # InJudge and InValidation: the world's judge and validation belong to project A (a built-in judge is
    # read by anyone signed in: tests/api/test_judges.py).
    assert isinstance(policy, InProject | InExperiment | InRun | InJudge | InValidation | ChoosesProject), (
        policy
    )
    return success if Role(caller).covers(policy.role) else 403


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, World]]:
    """A database holding the world, copied for each route that changes something."""
    root = tmp_path_factory.mktemp("matrix")
    settings = _settings(root / "template.sqlite", root)
    upgrade_to_head(settings.resolved_database_url)
    with TestClient(create_app(settings, RecordingQueue())) as client:
        world = build_world(client, settings)
        world = replace(world, **judged_after_the_fact(client, world))
    yield root / "template.sqlite", world


def judged_after_the_fact(client: TestClient, world: World) -> dict[str, int]:
    """A rescoring (queued: a judge added after the runs), a stress test of its first judge (queued) and a
    labelling sample of the world's experiment, and a second judge definition of project A (alpha-phrases is
    the first) to add."""
    owner = world.cookie("owner")
    path = f"/api/experiments/{world.experiment_id}"
    second = {"name": "alpha-keywords", "kind": "refusal-phrases", "project": world.project_a}
    assert client.post("/api/judges", json=second, headers=owner).status_code == 201
    rescoring = client.post(f"{path}/judges", json={"judges": ["refusal-phrases"]}, headers=owner)
    stress_test = client.post(f"{path}/stress-tests", json={"judge": "refusal-minilm"}, headers=owner)
    assert stress_test.status_code == 201, stress_test.text
    sample = client.post(f"{path}/labelling-samples", json={"size": 4}, headers=owner)
    assert rescoring.status_code == 201 and sample.status_code == 201, rescoring.text + sample.text
    sample_id = sample.json()["id"]
    items = client.get(f"{path}/labelling-samples/{sample_id}/items", headers=owner).json()
    return {
        "rescoring_id": rescoring.json()[0]["id"],
        "stress_test_id": stress_test.json()["id"],
        "sample_id": sample_id,
        "item_id": items[0]["id"],
    }


def _settings(database: Path, home: Path) -> Settings:
    return Settings(
        home=home / "home",
        database_url=f"sqlite:///{database}",
        broker_url="memory://",
        allowed_hosts=[TEST_CLIENT_HOST],
    )


def _client_on_copy(template: Path, target: Path) -> TestClient:
    shutil.copy(template, target)
    return TestClient(create_app(_settings(target, target.parent), RecordingQueue()))


def test_every_route_answers_every_caller_as_its_policy_says(
    template: tuple[Path, World], tmp_path: Path
) -> None:
    database, world = template
    with _client_on_copy(database, tmp_path / "reads.sqlite") as reader:
        routes = declared_routes(reader.app)  # type: ignore[arg-type]
        calls = requests(world)
        assert not [str(r) for r in routes if str(r) not in calls], "routes missing from REQUESTS"
        mismatches = []
        for index, route in enumerate(routes):
            options, success = calls[str(route)]
            method = next(iter(route.methods))
            changes = method != "GET"
            client = _client_on_copy(database, tmp_path / f"route-{index}.sqlite") if changes else reader
            with client if changes else nullcontext():
                for caller in CALLERS:
                    client.cookies.clear()
                    headers = {**credentials(caller, world), **options.get("headers", {})}
                    sent = {k: v(caller) if callable(v) else v for k, v in options.items() if k != "headers"}
                    response = client.request(
                        method, path_of(route, world), **sent, headers=headers, follow_redirects=False
                    )
                    assert route.policy is not None
                    want = expected_status(route.policy, caller, success, str(route) in ONLY_THE_OWNERS)
                    if response.status_code != want:
                        mismatches.append(
                            f"{route} as {caller}: {response.status_code} (expected {want}) "
                            f"{response.text[:200]}"
                        )
    assert not mismatches, "\n".join(mismatches)


def test_a_route_without_a_policy_stops_the_app_from_starting() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    with pytest.raises(RuntimeError, match="GET /api/forgotten declares no access policy"):
        check_policies(app)
