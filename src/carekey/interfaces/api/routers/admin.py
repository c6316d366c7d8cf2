"""Admin: users (an admin reads no records)."""

from __future__ import annotations

from fastapi import APIRouter

from carekey.interfaces.api.deps import CurrentActor, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import UserIn, UserOut

router = APIRouter(prefix="/admin", tags=["admin"])


def _out(u) -> UserOut:  # type: ignore[no-untyped-def]
    return UserOut(id=u.id, username=u.username, role=u.role.value, site_ids=sorted(u.site_ids),
                   display_name=u.display_name)


@router.post("/users", status_code=201, response_model=UserOut, summary="Add a user (admin)",
             responses=responses(401, 403, 404, 409, 422))
def add_user(body: UserIn, actor: CurrentActor, svc: Svc) -> UserOut:
    return _out(svc.admin.add_user(actor, body.username, body.role, body.password, body.site_ids, body.display_name))


@router.get("/users", response_model=list[UserOut], summary="List staff users (admin)",
            responses=responses(401, 403))
def list_users(actor: CurrentActor, svc: Svc) -> list[UserOut]:
    return [_out(u) for u in svc.admin.users(actor)]
