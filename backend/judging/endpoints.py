"""Which endpoints an LLM judge may call and which API keys it may send, by the operator's settings.

Checked twice with the same rules: when a definition is saved (the API, without asking DNS: the host as
written) and when the worker calls (every address the host resolves to, at connection time, so a name that
resolved to a public address when it was saved cannot be pointed at 127.0.0.1 afterwards).

- An endpoint must be under one of SEEDSCOPE_JUDGE_ENDPOINTS when that is set.
- Its addresses must be public unless it is under one of SEEDSCOPE_JUDGE_INTERNAL_ENDPOINTS; a cloud
  metadata service is refused even then.
- An API key is sent only to SEEDSCOPE_JUDGE_ENDPOINTS, and only for the projects SEEDSCOPE_JUDGE_KEY_PROJECTS
  gives that key to.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from backend.config import Settings, env_name
from backend.net.addresses import METADATA_HOSTS, IPAddress, address_kind, host_name_kind, is_metadata
from backend.net.urls import HttpUrl, parse_http_url


class EndpointRefused(ValueError):
    """An endpoint or key the settings do not allow; the message names the setting that would."""


class KeyRefused(EndpointRefused):
    """An API key the definition's project may not use."""


@dataclass(frozen=True)
class EndpointRules:
    allowed: tuple[HttpUrl, ...]
    internal: tuple[HttpUrl, ...]
    key_projects: Mapping[str, list[int] | Literal["*"]]

    @classmethod
    def from_settings(cls, settings: Settings) -> "EndpointRules":
        return cls(
            # Settings checked that each prefix parses.
            allowed=tuple(map(parse_http_url, settings.judge_endpoint_list)),
            internal=tuple(map(parse_http_url, settings.judge_internal_endpoint_list)),
            key_projects=settings.judge_key_projects,
        )

    def listed(self, endpoint: HttpUrl) -> bool:
        """Whether the endpoint is under one of SEEDSCOPE_JUDGE_ENDPOINTS (where keys may go)."""
        return any(endpoint.is_under(prefix) for prefix in self.allowed)

    def may_be_internal(self, endpoint: HttpUrl) -> bool:
        return any(endpoint.is_under(prefix) for prefix in self.internal)

    def _refuse_internal(self, endpoint: HttpUrl, what: str, kind: str, *, metadata: bool) -> EndpointRefused:
        if metadata:
            return EndpointRefused(f"endpoint {endpoint}: {what} is {kind}, which no judge may call")
        return EndpointRefused(
            f"endpoint {endpoint}: {what} is {kind}; judges call public addresses only, unless the operator "
            f"lists the endpoint in {env_name('judge_internal_endpoints')}"
        )

    def check_endpoint(self, endpoint: HttpUrl) -> None:
        """What can be told without DNS: the allow-list, and a host that is an internal address or name."""
        if self.allowed and not self.listed(endpoint):
            raise EndpointRefused(
                f"endpoint {endpoint} is not under any of the endpoints the operator allows "
                f"({env_name('judge_endpoints')})"
            )
        address = endpoint.address
        if address is not None:
            kind, metadata = address_kind(address), is_metadata(address)
        else:
            kind, metadata = host_name_kind(endpoint.host), endpoint.host in METADATA_HOSTS
        if kind is not None and (metadata or not self.may_be_internal(endpoint)):
            raise self._refuse_internal(endpoint, endpoint.host, kind, metadata=metadata)

    def check_address(self, endpoint: HttpUrl, address: IPAddress) -> None:
        """One address the endpoint's host resolved to, before connecting to it."""
        kind, metadata = address_kind(address), is_metadata(address)
        if kind is not None and (metadata or not self.may_be_internal(endpoint)):
            raise self._refuse_internal(
                endpoint, f"{endpoint.host} resolves to {address}, which", kind, metadata=metadata
            )

    def check_key(self, endpoint: HttpUrl, api_key_env: str, project_id: int | None) -> None:
        """Whether a definition of the project (None: a built-in) may send the key in `api_key_env`."""
        if not self.listed(endpoint):
            raise KeyRefused(
                f"API keys are sent only to the endpoints in {env_name('judge_endpoints')}, and {endpoint} "
                "is not under any of them"
            )
        projects = self.key_projects.get(api_key_env, [])
        if projects != "*" and project_id not in projects:
            owner = f"project {project_id}" if project_id is not None else "a built-in definition"
            raise KeyRefused(
                f"{owner} may not use the API key in {api_key_env}: the operator gives each key to projects "
                f"in {env_name('judge_key_projects')}"
            )
