"""Signing in and out, who am I, passwords and API tokens."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from backend.api.auth import (
    SESSION_COOKIE,
    AnyCredentialDep,
    Public,
    SignedInDep,
)
from backend.api.deps import SessionDep, SettingsDep, TokenId
from backend.api.proxies import client_address, is_https
from backend.api_models.accounts import ApiTokenCreated, ApiTokenRead, MeRead, UserRead
from backend.config import Settings
from backend.redirects import same_site_path
from backend.repositories import projects as project_repository
from backend.services import accounts as service

router = APIRouter(tags=["account"])
PublicDep = Annotated[None, Depends(Public())]


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    # Not needed for an account that has no password yet (the local owner, single sign-on users).
    current_password: str | None = Field(None, max_length=1024)
    new_password: str = Field(max_length=1024)


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    can_write: bool = Field(False, description="read-write; by default a token can only read")


def _set_session_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
        path="/",
    )


_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"description": "too many failed sign-ins lately: wait the Retry-After header's seconds"}
}


@router.post(
    "/api/auth/login",
    responses={401: {"description": "wrong email or password"}, **_THROTTLED},
)
def login(
    credentials: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    _: PublicDep,
) -> UserRead:
    """Sign in with email and password; the session travels in an HTTP-only cookie."""
    signed_in = service.sign_in(
        session, settings, credentials.email, credentials.password, client_address(request, settings)
    )
    _set_session_cookie(response, request, settings, signed_in.session_token)
    return signed_in.user


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, session: SessionDep, _: PublicDep) -> Response:
    """End this browser's session (the session is deleted on the server, not only forgotten here)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.sign_out(session, cookie)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/login/once", include_in_schema=False)
def login_once(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _: PublicDep,
    token: Annotated[str, Query(max_length=200)] = "",
    next: Annotated[str, Query(max_length=2000, description="the page to open once signed in")] = "/",
) -> RedirectResponse:
    """A one-time sign-in link (the demo's, `seedscope login-url`): exchanged for a session cookie."""
    session_token = service.use_login_link(session, settings, token) if token else None
    if session_token is None:
        return RedirectResponse("/login?error=link", status_code=status.HTTP_303_SEE_OTHER)
    # Only a path on this site: an open redirect would lend this link to phishing.
    response = RedirectResponse(same_site_path(next), status_code=status.HTTP_303_SEE_OTHER)
    _set_session_cookie(response, request, settings, session_token)
    return response


@router.get("/api/me")
def me(access: AnyCredentialDep, session: SessionDep) -> MeRead:
    """Who is calling: the signed-in user and their projects with roles, or a share link's grant."""
    principal = access.principal
    user = principal.user
    return MeRead(
        user=user,
        projects=project_repository.projects_of_user(session, user.id) if user else [],
        share=principal.share,
        can_write=principal.can_write,
    )


@router.post("/api/auth/password", status_code=status.HTTP_204_NO_CONTENT, responses=_THROTTLED)
def change_password(
    change: PasswordChange, request: Request, access: SignedInDep, session: SessionDep, settings: SettingsDep
) -> None:
    """Set a new password; every other session of the account ends (this one stays signed in)."""
    service.change_password(
        session,
        settings,
        access.user,
        change.current_password,
        change.new_password,
        client_address=client_address(request, settings),
        keep_session_token=access.principal.session_token,
    )


@router.get("/api/tokens")
def list_tokens(access: SignedInDep, session: SessionDep) -> list[ApiTokenRead]:
    return service.list_api_tokens(session, access.user.id)


@router.post("/api/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenRequest, access: SignedInDep, session: SessionDep) -> ApiTokenCreated:
    """A new API token, shown once in this answer (only its hash is stored)."""
    return service.create_api_token(session, access.user.id, body.name, can_write=body.can_write)


@router.delete("/api/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: TokenId, access: SignedInDep, session: SessionDep) -> None:
    service.revoke_api_token(session, access.user.id, token_id)
