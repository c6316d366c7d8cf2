"""Staff login and logout."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from carekey.interfaces.api.deps import CurrentActor, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import PasswordChangeIn, TokenIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Log in",
    description="Exchange a username and password (argon2id-verified) for an opaque bearer token that "
    "expires after the configured lifetime. Failed logins are rate-limited per account and address.",
    responses=responses(400, 401, 422, 429),
)
def login(body: TokenIn, request: Request, svc: Svc) -> TokenOut:
    client = request.client.host if request.client else "unknown"
    issued = svc.auth.login(body.username, body.password, client)
    a = issued.actor
    return TokenOut(
        access_token=issued.token,
        expires_at=issued.expires_at,
        username=a.username,
        role=a.role.value,
        site_ids=sorted(a.site_ids),
    )


@router.delete(
    "/token",
    status_code=204,
    summary="Log out",
    description="Revoke the bearer token in use.",
    responses=responses(401),
)
def logout(request: Request, actor: CurrentActor, svc: Svc) -> Response:
    token = request.headers["authorization"].split(" ", 1)[1]
    svc.auth.logout(token)
    return Response(status_code=204)


@router.get(
    "/me", summary="Who am I", description="The authenticated user's name, role and sites.", responses=responses(401)
)
def me(actor: CurrentActor) -> dict[str, object]:
    return {
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role.value,
        "site_ids": sorted(actor.site_ids),
        "approved": actor.approved,
    }


@router.post(
    "/password",
    status_code=204,
    summary="Change your own password",
    description="Any staff member, with their current password (logged; the account's approval stays).",
    responses=responses(400, 401, 422),
)
def change_password(body: PasswordChangeIn, actor: CurrentActor, svc: Svc) -> Response:
    svc.admin.change_own_password(actor, body.current_password, body.new_password)
    return Response(status_code=204)
