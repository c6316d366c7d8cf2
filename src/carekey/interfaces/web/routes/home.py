"""Sign in, sign out, and the home screen of each role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey.domain.program import Role
from carekey.errors import NotAuthenticated, RateLimited
from carekey.interfaces.web import i18n
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.language import remember
from carekey.interfaces.web.routes.node import is_node
from carekey.interfaces.web.security import STAFF_COOKIE, clear_cookie, require_csrf, set_cookie
from carekey.interfaces.web.session import current_staff, services
from carekey.policy.decision import Action, roles_for

router = APIRouter()
Form = Annotated[FormData, Depends(form_data)]
HOME = {Role.PROGRAM_MANAGER: "/dashboard", Role.AUDITOR: "/auditor"}


@router.get("/")
def home(request: Request):
    actor = current_staff(request)
    if actor is None:
        return page(request, "welcome.html")
    if actor.role in HOME:
        return redirect(request, HOME[actor.role])
    svc = services(request)
    if actor.role not in roles_for(Action.HANDLE_VISIT):
        return admin_home(request, actor)
    sites = [s for s in svc.admin.sites() if s.id in actor.site_ids]
    queue = svc.visits.open_visits(actor)
    return page(
        request,
        "home.html",
        sites=sites,
        queue=queue,
        site_names={s.id: s.name for s in sites},
        node=actor.role in roles_for(Action.SYNC_NODE) and is_node(request),
    )


def admin_home(request: Request, actor, status: int = 200, **shown):
    """The admin's start page: the FHIR queue (counts), what retention would delete now (counts), and the results
    of the last FHIR send or retention run (``shown``)."""
    svc = services(request)
    fhir = svc.fhir.queue(actor).counts if svc.fhir is not None and actor.role is Role.ADMIN else {}
    plan = svc.retention.plan() if actor.role is Role.ADMIN else None  # counts only, never who
    due = {k: len(getattr(plan, k)) for k in ("expired", "orphan_templates", "retired_templates", "orphan_images")}
    node = actor.role in roles_for(Action.SYNC_NODE) and is_node(request)
    return page(request, "admin_home.html", status, fhir=fhir, retention_due=due if plan else None, node=node, **shown)


@router.get("/login")
def login_form(request: Request):
    return page(request, "login.html")


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(request: Request, form: Form):
    f = Fields(form)
    svc = services(request)
    client = request.client.host if request.client else "unknown"
    try:
        issued = svc.auth.login(f.text("username"), str(form.get("password") or ""), client)
    except (NotAuthenticated, RateLimited) as err:
        return page(
            request,
            "login.html",
            401 if isinstance(err, NotAuthenticated) else 429,
            error=say(err),
            username=f.text("username"),
        )
    response = redirect(request, "/")
    set_cookie(response, request, request.app.state.settings, STAFF_COOKIE, issued.token)
    lang = i18n.valid(svc.admin.own_language(issued.actor))
    if lang:  # the account's language, chosen once with the switch, follows the staff member to any device
        remember(response, request, lang)
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request):
    token = request.cookies.get(STAFF_COOKIE)
    if token:
        services(request).auth.logout(token)
    response = redirect(request, "/login", "signed_out")
    clear_cookie(response, request, request.app.state.settings, STAFF_COOKIE)
    return response
