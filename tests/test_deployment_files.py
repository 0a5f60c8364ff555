"""docker-compose.yml and the Dockerfile, read (no Docker engine here): secrets come from the environment
with no default, the API is published on the loopback address unless configured, and nothing runs as root."""

import re

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def test_every_secret_is_required_from_the_environment() -> None:
    text = "\n".join(_strings(COMPOSE))
    for secret in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        # ${NAME:?message} fails when unset; ${NAME:-default} or ${NAME} would start with a default or none.
        assert all(use.startswith(":?") for use in uses), (secret, uses)
    assert COMPOSE["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")


def test_the_api_is_published_on_the_loopback_address_by_default() -> None:
    services = COMPOSE["services"]
    published = {name: service.get("ports", []) for name, service in services.items() if service.get("ports")}
    assert list(published) == ["api"], "only the API is published"
    (mapping,) = published["api"]
    default = re.fullmatch(r"\$\{SEEDSCOPE_PUBLISH:-([^}]+)\}:8000", mapping)
    assert default and default.group(1).startswith("127.0.0.1:"), mapping


def test_the_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
