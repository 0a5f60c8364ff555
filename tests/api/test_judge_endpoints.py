"""What an LLM judge definition may name, by the operator's settings, refused when it is saved (and again
when a saved one is used): endpoints (normalised; internal and metadata addresses refused) and API keys (by
project)."""

from collections.abc import Callable

import pytest
import yaml
from fastapi.testclient import TestClient

from backend.judging.builtins import JUDGE_PRESETS
from backend.judging.definition import JudgeSpec
from backend.repositories.judges import add_definition
from tests.factories import experiment_spec
from tests.support.responses import refused

KEY_ENV = "SEEDSCOPE_JUDGE_KEY_TEAM_A"
OperatorClient = Callable[..., TestClient]


def llm_judge(endpoint: str, **fields: object) -> dict:
    return {**JUDGE_PRESETS["strongreject"], "name": "mine", "endpoint": endpoint, "model": "m", **fields}


INTERNAL = [
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
    ("http://[fd00:ec2::254]/latest", "is a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1", "is a cloud metadata service"),
    ("http://127.0.0.1:5432", "127.0.0.1 is a loopback address"),
    ("http://localhost:6379", "localhost is a local host name"),
    ("http://127.1:6379/v1", "127.0.0.1 is a loopback address"),  # as inet_aton reads it
    ("http://2130706433/v1", "127.0.0.1 is a loopback address"),
    ("http://[::1]:8000/v1", "is a loopback address"),
    ("http://[::ffff:127.0.0.1]:8000/v1", "a loopback address (inside an IPv6 address)"),
    ("http://0.0.0.0:8000/v1", "is an unspecified address"),
    ("http://10.0.0.7:8000/v1", "10.0.0.7 is a private address"),
    ("http://192.168.1.20/v1", "is a private address"),
    ("http://100.64.3.4/v1", "is a shared (CGNAT) address"),
    ("http://[fd12:3456::1]/v1", "is a private address"),
    ("http://169.254.10.10/v1", "is a link-local address"),
    ("http://224.0.0.1/v1", "is a multicast address"),
    ("http://redis:6379/v1", "a single-label host name"),
    ("http://vllm.internal:8000/v1", "is a local host name"),
]


@pytest.mark.parametrize(("endpoint", "reason"), INTERNAL)
def test_internal_and_metadata_endpoints_are_refused_when_saved(
    client: TestClient, endpoint: str, reason: str
) -> None:
    metadata = "metadata" in reason
    setting = "no judge may call" if metadata else "SEEDSCOPE_JUDGE_INTERNAL_ENDPOINTS"
    refused(client.post("/api/judges", json=llm_judge(endpoint)), 422, reason, setting)
    document = yaml.safe_dump(llm_judge(endpoint))
    yaml_response = client.post(
        "/api/judges/yaml", content=document, headers={"content-type": "application/yaml"}
    )
    refused(yaml_response, 422, reason, setting)
    assert all(judge["name"] != "mine" for judge in client.get("/api/judges").json())


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("https://judge.example.org/v1?api-version=1", "holds a query"),
        ("https://judge.example.org/v1#/../../admin", "holds a fragment"),
        ("https://user:pw@judge.example.org/v1", "holds user information"),
        ("https://judge.example.org\\@127.0.0.1/v1", "holds a backslash"),
        ("https://judge.example.org/v1/%2F..%2Fadmin", "holds a character a path may not"),
        ("https://judge.example.org/%2e%2e/v1", "goes above the root"),
        ("https://judge.example.org:99999/v1", "is not a number from 1 to 65535"),
        ("gopher://judge.example.org/v1", "must be an http:// or https:// URL"),
    ],
)
def test_endpoints_are_parsed_strictly(client: TestClient, endpoint: str, reason: str) -> None:
    refused(client.post("/api/judges", json=llm_judge(endpoint)), 422, "endpoint", reason)


def test_an_endpoint_is_stored_in_its_normal_form(client: TestClient) -> None:
    created = client.post("/api/judges", json=llm_judge("HTTPS://Judge.Example.ORG/a/./b/../v1/"))
    assert created.status_code == 201, created.text
    assert created.json()["config"]["endpoint"] == "https://judge.example.org/a/v1"


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("https://api.example.org/v1/../admin", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("https://api.example.org/v1/%2e%2e/admin", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("https://api.example.org/v1/.%2E/admin", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("https://api.example.org/v1%2f..%2fadmin", "holds a character a path may not"),
        ("https://api.example.org/v10", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("https://api.example.org.evil.example/v1", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("http://api.example.org/v1", "SEEDSCOPE_JUDGE_ENDPOINTS"),
        ("https://api.example.org:8443/v1", "SEEDSCOPE_JUDGE_ENDPOINTS"),
    ],
)
def test_dot_segments_cannot_escape_the_endpoint_allow_list(
    operator_client: OperatorClient, endpoint: str, reason: str
) -> None:
    client = operator_client(judge_endpoints="https://api.example.org/v1")
    refused(client.post("/api/judges", json=llm_judge(endpoint)), 422, reason)
    listed = client.post("/api/judges", json=llm_judge("https://API.example.org:443/v1/deployments/x/"))
    assert listed.status_code == 201, listed.text


def test_an_operator_allows_an_internal_endpoint_and_no_more(operator_client: OperatorClient) -> None:
    client = operator_client(judge_internal_endpoints="http://10.0.0.7:8000/v1,http://169.254.169.254")
    assert client.post("/api/judges", json=llm_judge("http://10.0.0.7:8000/v1")).status_code == 201
    for other in ("http://10.0.0.7:5432/v1", "http://10.0.0.7:8000/admin", "http://10.0.0.8:8000/v1"):
        refused(client.post("/api/judges", json=llm_judge(other)), 422, "SEEDSCOPE_JUDGE_INTERNAL_ENDPOINTS")
    # Listing a metadata address allows nothing.
    refused(
        client.post("/api/judges", json=llm_judge("http://169.254.169.254/latest")),
        422,
        "no judge may call",
    )


def test_a_key_is_for_the_projects_the_operator_gives_it_to(operator_client: OperatorClient) -> None:
    endpoint = "https://api.example.org/v1"
    keyed = llm_judge(endpoint, api_key_env=KEY_ENV)
    other_team = operator_client(judge_endpoints=endpoint, judge_key_projects={KEY_ENV: [99]})
    refused(
        other_team.post("/api/judges", json=keyed),
        403,
        "project 1 may not use",
        "SEEDSCOPE_JUDGE_KEY_PROJECTS",
    )
    unlisted = operator_client(judge_key_projects={KEY_ENV: [1]})
    refused(unlisted.post("/api/judges", json=keyed), 403, "SEEDSCOPE_JUDGE_ENDPOINTS")
    given = operator_client(judge_endpoints=endpoint, judge_key_projects={KEY_ENV: [1]})
    assert given.post("/api/judges", json=keyed).status_code == 201
    everyone = operator_client(judge_endpoints=endpoint, judge_key_projects={KEY_ENV: "*"})
    assert everyone.post("/api/judges", json={**keyed, "name": "also"}).status_code == 201


def test_a_saved_definition_the_settings_now_refuse_is_refused_before_any_job(client: TestClient) -> None:
    """A definition stored before these rules (or before the operator changed them): validating it,
    submitting an experiment with it or adding it to one is refused, before a worker is asked to call it."""
    config = JudgeSpec.model_validate(llm_judge("http://169.254.169.254/v1")).config()
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        add_definition(session, project_id=1, name="old", description="", config=config)
        session.commit()
    validation = {"judge": "old", "validation_set": "pyrit-refusal"}
    refused(client.post("/api/judge-validations", json=validation), 422, "cloud metadata")
    experiment = client.post("/api/experiments", json=experiment_spec(judges=["old"]))
    refused(experiment, 422, "cloud metadata")
    # Nor can it join an experiment after the runs: no rescoring is stored or queued.
    submitted = client.post("/api/experiments", json=experiment_spec()).json()
    refused(
        client.post(f"/api/experiments/{submitted['id']}/judges", json={"judges": ["old"]}),
        422,
        "cloud metadata",
    )
    assert client.get(f"/api/experiments/{submitted['id']}").json()["rescorings"] == []
