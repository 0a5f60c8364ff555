"""Hosts, security headers, API docs, request limits, malformed input: each a clear 4xx, nothing stored."""

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from fastapi import Depends
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.auth import Public
from backend.api.middleware import SECURITY_HEADERS, host_allowed, host_name
from backend.config import Settings
from backend.parsing import MAX_NESTING
from tests.conftest import REPO, TEST_CLIENT_HOST, RecordingQueue, sign_in_as_local_owner
from tests.factories import NOTHING_STORED, add_verdicts, experiment_spec, stored_counts

FRONTEND = REPO / "frontend"


# --- Host allowlist -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "::1"), ("LocalHost.", "localhost"), ("::1", "::1")],
)
def test_host_name_drops_the_port_and_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_host_patterns() -> None:
    assert host_allowed("seedscope.example.org", ["*.example.org"])
    assert not host_allowed("example.org.evil.com", ["*.example.org", "example.org"])
    assert host_allowed("anything", ["*"])
    assert not host_allowed("", ["127.0.0.1"])


def test_a_foreign_host_gets_400_naming_the_setting(client: TestClient) -> None:
    response = client.get("/api/catalog", headers={"host": "rebind.attacker.example:8000"})
    assert response.status_code == 400
    assert "SEEDSCOPE_ALLOWED_HOSTS" in response.json()["detail"]
    assert "rebind.attacker.example" in response.json()["detail"]
    assert client.get("/api/catalog").status_code == 200


def test_the_default_hosts_are_the_loopback_names(tmp_path: Path, queue: RecordingQueue) -> None:
    settings = Settings(home=tmp_path, broker_url="memory://")
    assert set(settings.allowed_hosts) == {"127.0.0.1", "localhost", "::1"}
    settings.ensure_dirs()
    from backend.migrate import upgrade_to_head

    upgrade_to_head(settings.resolved_database_url)
    with TestClient(create_app(settings, queue), base_url="http://localhost:8000") as local:
        assert local.get("/api/health").status_code == 200
        assert local.get("/api/health", headers={"host": TEST_CLIENT_HOST}).status_code == 400


# --- Security headers, no inline script, local docs ---------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/experiments/new", "/docs", "/api/catalog", "/static/js/main.js", "/api/experiments/999"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["content-security-policy"].split("; ")
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


class _ScriptFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self._in_script = True
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<script src={src!r}>: not one of ours")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]!r}")


@pytest.mark.parametrize("page", sorted(p.name for p in FRONTEND.glob("*.html")))
def test_pages_have_no_inline_script_and_load_nothing_from_elsewhere(page: str) -> None:
    html = (FRONTEND / page).read_text()
    finder = _ScriptFinder()
    finder.feed(html)
    assert finder.problems == []
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "every asset is served by seedscope itself"


def test_the_api_docs_are_served_without_a_cdn(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui-bundle.js" in docs.text
    bundle = client.get("/static/vendor/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text[:2000]
    assert client.get("/static/vendor/swagger-ui.css").status_code == 200
    assert "/openapi.json" in client.get("/static/docs.js").text
    # ReDoc ships in no Python package: rather no page than one that loads a CDN.
    assert client.get("/redoc").status_code == 404


# --- Limits -----------------------------------------------------------------------------------------

LIMITS = {
    "max_request_bytes": 8192,
    "max_prompt_chars": 50,
    "max_example_chars": 40,
    "max_seeds_per_condition": 3,
    "max_runs_per_experiment": 6,
    "max_pairs_per_request": 2,
}


@pytest.fixture
def limited(migrated: Settings, queue: RecordingQueue) -> Iterator[TestClient]:
    """The app with small limits, so each can be crossed cheaply; signed in as the local owner."""
    settings = migrated.model_copy(update=LIMITS)
    with TestClient(create_app(settings, queue)) as test_client:
        sign_in_as_local_owner(test_client, settings)
        yield test_client


def _refused(response, status: int, setting: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert f"SEEDSCOPE_{setting.upper()}" in response.json()["detail"]


def test_a_body_over_the_limit_is_refused_by_its_length_or_while_streaming(limited: TestClient) -> None:
    big = json.dumps({"name": "x", "content": "y" * 10_000})
    _refused(limited.post("/api/training-sets", content=big), 413, "max_request_bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    _refused(
        limited.post("/api/experiments/yaml", content=chunks(), headers={"content-type": "application/yaml"}),
        413,
        "max_request_bytes",
    )
    assert stored_counts(limited) == NOTHING_STORED


def test_seeds_per_condition_and_runs_per_experiment_are_limited(
    limited: TestClient, queue: RecordingQueue
) -> None:
    too_many_seeds = experiment_spec(seeds=[0, 1, 2, 3])
    _refused(limited.post("/api/experiments", json=too_many_seeds), 422, "max_seeds_per_condition")
    # 1 + 3 + 3 = 7 runs: each condition is within its limit, the experiment is not.
    too_many_runs = experiment_spec(seeds=[0, 1, 2])
    response = limited.post("/api/experiments", json=too_many_runs)
    _refused(response, 422, "max_runs_per_experiment")
    assert "7" in response.json()["detail"]
    assert stored_counts(limited)[0] == 0 and queue.sent == []
    # A grid's refusal names its factors: 1 + 2 x 2 conditions x 2 seeds = 9 runs.
    grid = {"factors": {"training.learning_rate": [2e-4, 5e-4], "lora.rank": [4, 8]}}
    response = limited.post(
        "/api/experiments", json=experiment_spec(conditions=too_many_runs["conditions"][:1], grid=grid)
    )
    _refused(response, 422, "max_runs_per_experiment")
    assert "the grid training.learning_rate (2) x lora.rank (2) makes 4 of them" in response.json()["detail"]
    # The YAML endpoint goes through the same checks.
    _refused(
        limited.post(
            "/api/experiments/yaml",
            content=yaml.safe_dump(too_many_runs),
            headers={"content-type": "application/yaml"},
        ),
        422,
        "max_runs_per_experiment",
    )


def test_reevaluations_count_towards_the_runs_of_an_experiment(limited: TestClient) -> None:
    experiment = limited.post("/api/experiments", json=experiment_spec(seeds=[0, 1])).json()  # 5 runs
    run_id = experiment["runs"][1]["id"]
    with limited.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_verdicts(session, run_id, [[]])
    _refused(
        limited.post(f"/api/runs/{run_id}/reevaluate", json={"count": 2}), 422, "max_runs_per_experiment"
    )
    assert limited.post(f"/api/runs/{run_id}/reevaluate", json={"count": 1}).status_code == 201


def test_pairs_per_analysis_request_are_limited(limited: TestClient) -> None:
    experiment = limited.post("/api/experiments", json=experiment_spec(seeds=[0])).json()
    pairs = [("pair", "lr-2e-4:lr-5e-4")] * 3
    for path in ("analysis", "figures/forest"):
        _refused(
            limited.get(f"/api/experiments/{experiment['id']}/{path}", params=pairs),
            422,
            "max_pairs_per_request",
        )


def test_prompt_and_example_lengths_are_limited(limited: TestClient) -> None:
    long_prompt = json.dumps({"id": "p1", "prompt": "x" * 51})
    response = limited.post(
        "/api/benchmarks", json={"name": "long", "format": "jsonl", "content": long_prompt}
    )
    _refused(response, 422, "max_prompt_chars")
    assert "'p1'" in response.json()["detail"]
    long_answer = json.dumps({"prompt": "hi", "response": "y" * 41})
    _refused(
        limited.post("/api/training-sets", json={"name": "long", "content": long_answer}),
        422,
        "max_example_chars",
    )
    assert stored_counts(limited) == NOTHING_STORED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lora": {"alpha": 10**6}}, "alpha"),
        ({"training": {"weight_decay": 5.0}}, "weight_decay"),
        ({"lora": {"target_modules": ["q_proj", "attention"]}}, "target_modules"),
        ({"lora": {"target_modules": ["q_proj; rm -rf"]}}, "target_modules"),
        ({"lora": {"target_modules": ["q_proj", "q_proj"]}}, "repeat"),
    ],
)
def test_lora_and_training_settings_are_checked_at_submission(
    client: TestClient, change: dict, message: str
) -> None:
    spec = experiment_spec(base_model="embedded:smollm2-135m-instruct")
    spec["conditions"][1].update(change)
    response = client.post("/api/experiments", json=spec)
    assert response.status_code == 422
    assert message in json.dumps(response.json()["detail"])
    assert stored_counts(client)[0] == 0


def test_target_modules_of_other_models_are_only_checked_for_form(
    client: TestClient, models_dir: Path
) -> None:
    # A local model's layers are known only to the worker that loads it.
    spec = experiment_spec(base_model=str(models_dir / "mine"))
    spec["conditions"][1]["lora"] = {"target_modules": ["c_attn"]}
    assert client.post("/api/experiments", json=spec).status_code == 201


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_infinite_or_nan_numbers_are_refused(client: TestClient, value: float) -> None:
    spec = experiment_spec()
    spec["conditions"][1]["training"] = {"warmup_ratio": value}  # YAML can write .inf and .nan; JSON cannot
    document = yaml.safe_dump(spec)
    assert ".inf" in document or ".nan" in document
    response = client.post(
        "/api/experiments/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422 and "finite" in response.json()["detail"]
    assert stored_counts(client)[0] == 0


# --- Out-of-range numbers and deep nesting -----------------------------------------------------------


def test_a_page_beyond_any_data_is_422_not_500(client: TestClient) -> None:
    assert client.get("/api/experiments", params={"page": 10**20}).status_code == 422
    assert client.get("/api/experiments", params={"page": 10**6}).json()["items"] == []


def test_ids_beyond_64_bits_are_422_on_every_route(client: TestClient, experiment: dict) -> None:
    huge = str(2**64)
    routes = {
        ("GET", "/api/experiments/{id}"),
        ("GET", "/api/experiments/{id}/analysis"),
        ("GET", "/api/experiments/{id}/figures/seeds"),
        ("GET", "/api/experiments/{id}/prompts"),
        ("GET", "/api/experiments/1/prompts/{id}/responses"),
        ("POST", "/api/experiments/{id}/cancel"),
        ("GET", "/api/runs/{id}"),
        ("GET", "/api/runs/{id}/generations"),
        ("POST", "/api/runs/{id}/retry"),
    }
    for method, path in routes:
        response = client.request(method, path.replace("{id}", huge))
        assert response.status_code == 422, (method, path, response.text)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 100_000])
def test_deeply_nested_documents_are_refused_and_store_nothing(client: TestClient, levels: int) -> None:
    yaml_spec = client.post(
        "/api/experiments/yaml", content=_deep(levels), headers={"content-type": "application/yaml"}
    )
    assert yaml_spec.status_code == 422 and "nested" in yaml_spec.json()["detail"]
    jsonl = (
        json.dumps({"id": "a", "prompt": "b", "category": "c"}) + "\n" + '{"prompt": ' + _deep(levels) + "}"
    )
    upload = client.post("/api/benchmarks", json={"name": "deep", "format": "jsonl", "content": jsonl})
    assert upload.status_code == 422 and "line 2" in upload.json()["detail"]
    advbench = client.post(
        "/api/benchmarks", json={"name": "deep", "format": "advbench-yaml", "content": _deep(levels)}
    )
    assert advbench.status_code == 422 and "nested" in advbench.json()["detail"]
    training = client.post(
        "/api/training-sets", json={"name": "deep", "content": '{"prompt": ' + _deep(levels) + "}"}
    )
    assert training.status_code == 422 and "nested" in training.json()["detail"]
    assert client.post("/api/experiments", content=_deep(levels)).status_code in (400, 422)
    assert stored_counts(client) == NOTHING_STORED


def test_a_yaml_alias_bomb_is_refused(client: TestClient) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    response = client.post(
        "/api/experiments/yaml", content="\n".join(lines), headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422 and "values" in response.json()["detail"]


# --- JSON a lenient parser accepts: lone surrogates, NaN, Infinity; dates out of range ----------------

JSON = {"content-type": "application/json"}
NOT_STRICT_JSON = [
    ('"\\ud800"', "lone UTF-16 surrogate (\\ud800)"),
    ('"tail \\udfff"', "lone UTF-16 surrogate (\\udfff)"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
]


@pytest.mark.parametrize(("value", "named"), NOT_STRICT_JSON)
def test_the_login_refuses_bodies_that_are_not_strict_json(
    anonymous_client: TestClient, value: str, named: str
) -> None:
    body = f'{{"email": "someone@example.org", "password": {value}}}'
    response = anonymous_client.post("/api/auth/login", content=body.encode(), headers=JSON)
    assert response.status_code == 422, response.text
    [issue] = response.json()["detail"]
    assert issue["type"] == "json_invalid" and named in issue["msg"]


@pytest.mark.parametrize(("value", "named"), NOT_STRICT_JSON)
def test_every_route_refuses_them_and_stores_nothing(client: TestClient, value: str, named: str) -> None:
    for path, body in (
        ("/api/projects", f'{{"name": {value}}}'),
        ("/api/experiments", f'{{"name": {value}, "benchmark": "seedscope-harmful-demo"}}'),
        ("/api/tokens", f'{{"name": "t", "can_write": {value}}}'),
        ("/api/experiments/plan", f'{{"seeds": [{value}]}}'),
    ):
        response = client.post(path, content=body.encode(), headers=JSON)
        assert response.status_code == 422 and named in response.json()["detail"][0]["msg"], (
            path,
            response.text,
        )
    assert stored_counts(client) == NOTHING_STORED
    assert [p["name"] for p in client.get("/api/projects").json()] == ["default"]


def test_surrogates_inside_uploaded_documents_are_refused(client: TestClient) -> None:
    record = '{"id": "a", "prompt": "\\ud800", "category": "c"}'
    upload = client.post("/api/benchmarks", json={"name": "odd", "format": "jsonl", "content": record})
    assert upload.status_code == 422 and "surrogate" in upload.json()["detail"]
    assert "line 1" in upload.json()["detail"]
    spec = yaml.safe_dump(experiment_spec(name="x")).replace("name: x", 'name: "\\ud800"')
    response = client.post(
        "/api/experiments/yaml", content=spec, headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 422 and "surrogate" in response.json()["detail"]
    assert stored_counts(client) == NOTHING_STORED


@pytest.mark.parametrize(
    "expires_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "10000-01-01T00:00:00Z"]
)
def test_a_date_outside_the_years_1_to_9999_in_utc_is_422(
    client: TestClient, experiment: dict, expires_at: str
) -> None:
    links = f"/api/experiments/{experiment['id']}/share-links"
    response = client.post(links, json={"expires_at": expires_at})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "expires_at"]
    assert client.get(links).json() == []
    # The latest representable moment is fine, and stored in UTC.
    latest = client.post(links, json={"expires_at": "9999-12-31T23:59:59+00:00"})
    assert latest.status_code == 201 and latest.json()["expires_at"] == "9999-12-31T23:59:59Z"


# --- an unexpected error -----------------------------------------------------------------------------


def test_a_server_error_is_json_with_the_security_headers_and_no_internals(
    migrated: Settings, queue: RecordingQueue
) -> None:
    app = create_app(migrated, queue)

    def broken() -> None:
        raise RuntimeError("secret internals at /srv/seedscope/db.py line 7")

    app.add_api_route("/api/broken", broken, dependencies=[Depends(Public())])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert "incident" in detail and "secret" not in detail and "RuntimeError" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
