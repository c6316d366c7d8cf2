"""Staff accounts in the browser: the admin's account screen (add, approve, change role or sites, reset password,
deactivate, reactivate), the program manager's approvals, and every staff member's own password. The rules (who may
approve what, the second-person approval, the logging) are the services' and the policy's; this is only forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.program import Role
from carekey.errors import CarekeyError
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter()
Form = Annotated[FormData, Depends(form_data)]
CSRF = [Depends(require_csrf)]


def _accounts(request: Request, status: int = 200, error: str | None = None, values: dict | None = None):
    actor = require_staff(request, Action.APPROVE_ACCOUNT)
    svc = services(request)
    users = svc.admin.users(actor) if actor.role is Role.ADMIN else svc.admin.pending_for(actor)
    return page(
        request,
        "accounts.html",
        status,
        users=users,
        sites=svc.admin.sites(),
        error=error,
        values=values or {},
        roles=[r.value for r in Role if r is not Role.PATIENT],
    )


@router.get("/accounts")
def accounts(request: Request):
    return _accounts(request)


@router.post("/accounts", dependencies=CSRF)
def add_account(request: Request, form: Form):
    actor = require_staff(request, Action.ADMINISTER)
    f = Fields(form)
    try:
        services(request).admin.add_user(
            actor,
            f.text("username"),
            f.text("role"),
            str(form.get("password") or ""),
            f.checked("site"),
            f.text("display_name"),
        )
    except CarekeyError as err:
        return _accounts(request, 422 if err.status < 500 else err.status, say(err), f.values())
    return redirect(request, "/accounts", "account_saved")


@router.post("/accounts/{username}/{action}", dependencies=CSRF)
def account_action(request: Request, username: str, action: str, form: Form):
    actor = require_staff(request, Action.APPROVE_ACCOUNT)
    admin, f = services(request).admin, Fields(form)
    try:
        if action == "approve":
            admin.approve_user(actor, username)
        elif action == "deactivate":
            admin.set_active(actor, username, False)
        elif action == "reactivate":
            admin.set_active(actor, username, True)
        elif action == "password":
            admin.reset_password(actor, username, str(form.get("password") or ""))
        elif action == "change":
            admin.change_user(actor, username, f.text("role") or None, f.checked("site"))
        else:
            return _accounts(request, 404, f"no action {action[:20]!r}")
    except CarekeyError as err:
        return _accounts(request, err.status, say(err))
    return redirect(request, "/accounts", "account_saved")


@router.get("/password")
def password_form(request: Request):
    require_staff(request)
    return page(request, "password.html")


@router.post("/password", dependencies=CSRF)
def change_password(request: Request, form: Form):
    actor = require_staff(request)
    try:
        services(request).admin.change_own_password(actor, str(form.get("current") or ""), str(form.get("new") or ""))
    except CarekeyError as err:
        return page(request, "password.html", err.status, error=say(err))
    return redirect(request, "/", "password_changed")
