"""Who is calling, and what each route lets them do. Authorization lives here and nowhere else.

Every route declares exactly one Policy, as a dependency (directly or through another dependency):
`Public`, `SignedIn`, `AnyCredential`, `InProject(role)`, `InExperiment(role, share=...)`,
`InRun(role, share=...)`, `InJudge(role)`, `InValidation(role)`, `ChoosesProject(role)` or
`SharePage(scope)`. The app refuses to start with a
route that declares none (`check_policies`), and tests/api/test_authorization.py reads the policies to
try every route with every kind of caller.

Rules: data of a project the caller is not in answers 404, never 403 (its existence must not leak); a
member whose role is too low gets 403; a read-only API token or a share link gets 403 on any change.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from backend.api.deps import ExperimentId, JudgeId, ProjectId, RunId, SessionDep, SettingsDep, ValidationId
from backend.api.proxies import sso_email
from backend.api_models.accounts import ProjectRead, ShareGrantRead, UserRead
from backend.domain import Role, ShareScope
from backend.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from backend.repositories import judges as judge_repository
from backend.repositories import projects as project_repository
from backend.repositories import validations as validation_repository
from backend.security import TokenKind, token_kind
from backend.services import accounts, projects

SESSION_COOKIE = "seedscope_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Mounted apps (not routes) that anyone may fetch: the stylesheet and scripts hold no data.
PUBLIC_MOUNTS = frozenset({"/static"})


@dataclass(frozen=True)
class Principal:
    """The caller: a user (by session cookie, API token or single sign-on), a share link, or nobody."""

    via: Literal["anonymous", "session", "token", "sso", "share"] = "anonymous"
    user: UserRead | None = None
    share: ShareGrantRead | None = None
    can_write: bool = False
    # The session cookie, so a password change can keep this session and end the others.
    session_token: str | None = None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    principal = _identify(request, session, settings)
    if principal.user is not None:
        # Invitations into projects become memberships when their account is next seen.
        projects.join_invited(session, principal.user)
    return principal


def _identify(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    token = _bearer(request)
    if token is not None:
        kind = token_kind(token)
        if kind == TokenKind.API:
            holder = accounts.holder_of_api_token(session, token)
            if holder is None:
                raise NotAuthenticated(
                    "this API token is unknown or was revoked; create one on your account page "
                    "or with `seedscope token create`"
                )
            return Principal(via="token", user=holder.user, can_write=holder.can_write)
        if kind == TokenKind.SHARE:
            grant = accounts.grant_of_share_token(session, token)
            if grant is None:
                raise NotFound("this share link does not exist, has expired or was revoked")
            return Principal(via="share", share=grant)
        raise NotAuthenticated("not a seedscope API token (they start with 'ssk_')")
    email = sso_email(request, settings)
    if email is not None:
        return Principal(via="sso", user=accounts.find_or_add_user(session, email), can_write=True)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = accounts.user_of_session(session, cookie)
        if user is not None:
            return Principal(via="session", user=user, can_write=True, session_token=cookie)
    return Principal()


PrincipalDep = Annotated[Principal, Depends(_principal)]


class SignInRedirect(Exception):
    """A page asked for by someone not signed in: they are sent to the sign-in page (backend.api.app)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Access:
    """What a policy let through: the caller, and for project data the project and the caller's role."""

    principal: Principal
    project_id: int | None = None
    role: Role | None = None

    @property
    def user(self) -> UserRead:
        assert self.principal.user is not None, "a policy that admits share links has no user"
        return self.principal.user

    @property
    def shows_text(self) -> bool:
        """False for a "figures and tables only" share link: no prompt or response text may reach it."""
        share = self.principal.share
        return share is None or share.scope == ShareScope.RESPONSES


@dataclass(frozen=True)
class Policy:
    """Base of the access policies. A policy is a FastAPI dependency; `page` policies send anonymous
    callers to the sign-in page instead of answering 401."""

    page: bool = field(default=False, kw_only=True)

    def _user(self, request: Request, principal: Principal) -> UserRead:
        if principal.share is not None:
            raise Forbidden("a share link opens its experiment's dashboard and nothing else")
        if principal.user is None:
            if self.page:
                raise SignInRedirect(request.url.path)
            raise NotAuthenticated("sign in first, or send an API token as 'Authorization: Bearer <token>'")
        return principal.user

    @staticmethod
    def _may_change(request: Request, principal: Principal) -> None:
        if request.method in UNSAFE_METHODS and not principal.can_write:
            raise Forbidden("a share link is read-only" if principal.share else "this API token is read-only")


@dataclass(frozen=True)
class Public(Policy):
    """Anyone: the sign-in page, the health check, static files."""

    def __call__(self) -> None:
        return None


@dataclass(frozen=True)
class SignedIn(Policy):
    """Any signed-in user; what they reach is filtered to their own (projects, tokens)."""

    def __call__(self, request: Request, principal: PrincipalDep) -> Access:
        self._user(request, principal)
        self._may_change(request, principal)
        return Access(principal)


@dataclass(frozen=True)
class AnyCredential(Policy):
    """A signed-in user or a share link (who am I)."""

    def __call__(self, request: Request, principal: PrincipalDep) -> Access:
        if principal.share is None:
            self._user(request, principal)
        return Access(principal)


@dataclass(frozen=True)
class _ProjectPolicy(Policy):
    role: Role = Role.VIEWER

    def _member(
        self,
        request: Request,
        principal: Principal,
        session: SessionDep,
        project_id: int | None,
        missing: str,
    ) -> Access:
        user = self._user(request, principal)
        role = project_repository.role_of(session, user.id, project_id) if project_id is not None else None
        if role is None:
            raise NotFound(missing)
        if not role.covers(self.role):
            raise Forbidden(f"you are a {role.value} of this project; this needs {self.role.value} rights")
        self._may_change(request, principal)
        return Access(principal, project_id=project_id, role=role)


@dataclass(frozen=True)
class InProject(_ProjectPolicy):
    """A member of the project in the path with at least `role`."""

    def __call__(
        self, project_id: ProjectId, request: Request, principal: PrincipalDep, session: SessionDep
    ) -> Access:
        return self._member(request, principal, session, project_id, f"project {project_id} not found")


@dataclass(frozen=True)
class _SharedPolicy(_ProjectPolicy):
    # The least share scope that may read this; None: no share link may.
    share: ShareScope | None = None

    def _shared(self, principal: Principal, experiment_id: int | None, missing: str) -> Access:
        grant = principal.share
        assert grant is not None
        if experiment_id != grant.experiment_id:
            raise NotFound(missing)
        if self.share is None or self.role != Role.VIEWER:
            raise Forbidden("a share link is read-only and opens its experiment's dashboard only")
        if not grant.scope.covers(self.share):
            raise Forbidden("this share link shows figures and tables only, without prompts or responses")
        return Access(principal)


@dataclass(frozen=True)
class InExperiment(_SharedPolicy):
    """A member of the experiment's project with at least `role`, or (when `share` is set) a share
    link to this experiment with at least that scope."""

    def __call__(
        self, experiment_id: ExperimentId, request: Request, principal: PrincipalDep, session: SessionDep
    ) -> Access:
        missing = f"experiment {experiment_id} not found"
        if principal.share is not None:
            return self._shared(principal, experiment_id, missing)
        project_id = project_repository.project_of_experiment(session, experiment_id)
        return self._member(request, principal, session, project_id, missing)


@dataclass(frozen=True)
class InRun(_SharedPolicy):
    """As InExperiment, for the experiment the run in the path belongs to."""

    def __call__(
        self, run_id: RunId, request: Request, principal: PrincipalDep, session: SessionDep
    ) -> Access:
        missing = f"run {run_id} not found"
        owner = project_repository.experiment_of_run(session, run_id)
        if principal.share is not None:
            return self._shared(principal, owner[1] if owner else None, missing)
        return self._member(request, principal, session, owner[0] if owner else None, missing)


@dataclass(frozen=True)
class InJudge(_ProjectPolicy):
    """A judge definition in the path: a built-in one, which anyone signed in may read (and nobody change),
    or a project's, as InProject for its project."""

    def __call__(
        self, judge_id: JudgeId, request: Request, principal: PrincipalDep, session: SessionDep
    ) -> Access:
        exists, project_id = judge_repository.project_of_judge(session, judge_id)
        if exists and project_id is None:
            self._user(request, principal)
            if self.role != Role.VIEWER:
                raise Forbidden("built-in judge definitions are read-only")
            self._may_change(request, principal)
            return Access(principal)
        return self._member(request, principal, session, project_id, f"judge definition {judge_id} not found")


@dataclass(frozen=True)
class InValidation(_ProjectPolicy):
    """A member, with at least `role`, of the project a judge validation in the path belongs to."""

    def __call__(
        self, validation_id: ValidationId, request: Request, principal: PrincipalDep, session: SessionDep
    ) -> Access:
        project_id = validation_repository.project_of_validation(session, validation_id)
        return self._member(
            request, principal, session, project_id, f"judge validation {validation_id} not found"
        )


@dataclass(frozen=True)
class ProjectChoice:
    """Resolves the project a submission or upload names, for a user who must hold `role` in it."""

    access: Access
    role: Role
    projects: list[ProjectRead]

    def choose(self, reference: int | str | None) -> int:
        if not self.projects:
            raise InvalidInput("you are in no project yet: create one on the projects page first")
        if reference is None:
            chosen = self.projects[0]
        else:
            matches = [p for p in self.projects if str(p.id) == str(reference) or p.name == reference]
            if not matches:
                names = ", ".join(f"{p.name} (id {p.id})" for p in self.projects)
                raise InvalidInput(f"you are in no project {reference!r}; yours: {names}")
            if len(matches) > 1:
                raise InvalidInput(f"several of your projects are named {reference!r}: name it by its id")
            chosen = matches[0]
        if not chosen.role.covers(self.role):
            raise Forbidden(
                f"you are a {chosen.role.value} of project {chosen.name}; this needs {self.role.value} rights"
            )
        return chosen.id


@dataclass(frozen=True)
class ChoosesProject(_ProjectPolicy):
    """A signed-in user acting in the project named in the request body (default: their first), where
    they must hold at least `role`; the route calls `choose()` with the body's project."""

    def __call__(self, request: Request, principal: PrincipalDep, session: SessionDep) -> ProjectChoice:
        user = self._user(request, principal)
        self._may_change(request, principal)
        return ProjectChoice(
            Access(principal), self.role, project_repository.projects_of_user(session, user.id)
        )


@dataclass(frozen=True)
class SharePage(Policy):
    """A dashboard page opened by a share link in the path (the token is the credential)."""

    scope: ShareScope = ShareScope.FIGURES

    def __call__(self, token: str, session: SessionDep) -> ShareGrantRead:
        grant = (
            accounts.grant_of_share_token(session, token) if token_kind(token) == TokenKind.SHARE else None
        )
        if grant is None:
            raise NotFound("this share link does not exist, has expired or was revoked")
        if not grant.scope.covers(self.scope):
            raise Forbidden(
                "this share link shows the dashboard's figures and tables only: the run pages, with the "
                "model's responses, need a link that shows responses"
            )
        return grant


# --- typed dependencies the routers use -------------------------------------------------------------

SignedInDep = Annotated[Access, Depends(SignedIn())]
SignedInPageDep = Annotated[Access, Depends(SignedIn(page=True))]
AnyCredentialDep = Annotated[Access, Depends(AnyCredential())]


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)


@dataclass(frozen=True)
class DeclaredRoute:
    """A route as served (router prefixes applied) with the policy it declares, None if none."""

    path: str
    methods: frozenset[str]
    policy: Policy | None

    def __str__(self) -> str:
        return f"{'/'.join(sorted(self.methods))} {self.path}"


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    """Every API route and page of the app with its policy; anything else served (a mount other than
    the public static files) is an error."""
    declared = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            policies = {d.call for d in _walk(context.dependant) if isinstance(d.call, Policy)}
            if len(policies) > 1:
                raise RuntimeError(f"{context.methods} {context.path} declares several access policies")
            policy = next(iter(policies), None)
            declared.append(
                DeclaredRoute(
                    path=context.path or route.path,
                    methods=frozenset(context.methods or ()),
                    policy=policy if isinstance(policy, Policy) else None,
                )
            )
        elif not (isinstance(route, Mount) and route.path in PUBLIC_MOUNTS):
            raise RuntimeError(f"{route!r} is served outside the access policies (see backend.api.auth)")
    return declared


def check_policies(app: FastAPI) -> None:
    """Refuse to build an app with a route that declares no access policy."""
    for route in declared_routes(app):
        if route.policy is None:
            raise RuntimeError(f"{route} declares no access policy (see backend.api.auth)")
