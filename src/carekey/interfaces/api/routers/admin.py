"""Admin: staff accounts (an admin reads no records). Every action is logged and counted publicly; a new or
changed account reaches no data until a second person (another admin, or the program manager) approves it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from carekey.domain.program import User
from carekey.interfaces.api.deps import CurrentActor, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import PasswordResetIn, UserChangeIn, UserIn, UserOut

router = APIRouter(prefix="/admin", tags=["admin"])


def _out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        role=u.role.value,
        site_ids=sorted(u.site_ids),
        display_name=u.display_name,
        active=u.active,
        approved=u.approved,
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    summary="Add a user (admin)",
    description="The account is created awaiting approval: it reaches no data until another admin or the "
    "program manager approves it (`POST /admin/users/{username}/approve`).",
    responses=responses(400, 401, 403, 404, 409, 422),
)
def add_user(body: UserIn, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.add_user(actor, body.username, body.role, body.password, body.site_ids, body.display_name))


@router.get("/users", response_model=list[UserOut], summary="List staff users (admin)", responses=responses(401, 403))
def list_users(actor: CurrentActor, svc: Svc) -> list[UserOut]:
    return [_out(u) for u in svc.admin.users(actor)]


@router.post(
    "/users/{username}/approve",
    response_model=UserOut,
    summary="Approve an account (second person)",
    description="By an admin or the program manager of the account's sites, never by whoever created or last "
    "changed the account, nor by the account itself.",
    responses=responses(401, 403, 404),
)
def approve_user(username: str, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.approve_user(actor, username))


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Change role, sites or name (admin)",
    description="A change of role or sites signs the account out and needs a new approval.",
    responses=responses(400, 401, 403, 404, 422),
)
def change_user(username: str, body: UserChangeIn, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.change_user(actor, username, body.role, body.site_ids, body.display_name))


@router.post(
    "/users/{username}/password",
    response_model=UserOut,
    summary="Reset a password (admin)",
    description="Signs the account out; it needs a new approval (the admin now knows the password).",
    responses=responses(400, 401, 403, 404, 422),
)
def reset_password(username: str, body: PasswordResetIn, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.reset_password(actor, username, body.password))


@router.post(
    "/users/{username}/deactivate",
    response_model=UserOut,
    summary="Deactivate an account (admin)",
    description="Signed out at once; it can no longer sign in.",
    responses=responses(401, 403, 404),
)
def deactivate(username: str, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.set_active(actor, username, False))


@router.post(
    "/users/{username}/reactivate",
    response_model=UserOut,
    summary="Reactivate an account (admin)",
    description="It needs a new approval.",
    responses=responses(401, 403, 404),
)
def reactivate(username: str, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.set_active(actor, username, True))


__all__ = ["Response", "router"]
