"""The admin's screens for programs, sites and keys (accounts are in ``accounts.py``). The rules, the logging and
the counts on the public page are the admin service's and the policy's, the same as for the CLI and the API.

Biometric key rotation from the browser replaces the program's biometric secret in the key file (``bootstrap``):
new captures enroll under the new version after the server restarts (the running matcher keeps the key it
loaded); then the renewal re-extracts the templates of the people who asked to keep their images. Log key rotation
(``carekey log rotate-key``) takes effect at once in this process (``bootstrap.rotate_log_key_live``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData

from carekey import bootstrap
from carekey.domain.program import Program, Site
from carekey.errors import CarekeyError, InvalidInput
from carekey.interfaces.web import notices
from carekey.interfaces.web.forms import Fields, form_data
from carekey.interfaces.web.i18n import gettext, say
from carekey.interfaces.web.render import page, redirect
from carekey.interfaces.web.routes.home import admin_home
from carekey.interfaces.web.security import require_csrf
from carekey.interfaces.web.session import require_staff, services
from carekey.policy.decision import Action

router = APIRouter(prefix="/admin")
Form = Annotated[FormData, Depends(form_data)]
CSRF = [Depends(require_csrf)]


def _sites(request: Request, status: int = 200, error: str | None = None, values: dict | None = None):
    require_staff(request, Action.ADMINISTER)
    svc = services(request)
    return page(
        request,
        "admin_sites.html",
        status,
        programs=svc.admin.programs(),
        sites=svc.admin.sites(),
        error=error,
        values=values or {},
        notice_versions=notices.versions(),
        notice_languages=notices.languages(),
    )


@router.get("/sites")
def sites(request: Request):
    return _sites(request)


@router.post("/sites", dependencies=CSRF)
def add_site(request: Request, form: Form):
    actor = require_staff(request, Action.ADMINISTER)
    f = Fields(form)
    try:
        site = Site(
            f.text("site_id").lower()[:40], f.text("program_id")[:40], f.text("name")[:200], f.text("district")[:200]
        )
        services(request).admin.add_site(actor, site)
    except CarekeyError as err:
        return _sites(request, 422 if err.status < 500 else err.status, say(err), f.values())
    return redirect(request, "/admin/sites", "site_saved")


@router.post("/programs", dependencies=CSRF)
def add_program(request: Request, form: Form):
    actor = require_staff(request, Action.ADMINISTER)
    f = Fields(form)
    versions, languages = tuple(f.checked("notice_version")[:20]), tuple(f.checked("language")[:20])
    try:
        program = Program(f.text("program_id").lower()[:40], f.text("program_name")[:200], versions, languages)
        if not notices.offered(program):  # a program whose notice cannot be shown could enroll nobody
            raise InvalidInput("no consent notice exists for the chosen version and languages")
        services(request).admin.create_program(actor, program)
    except CarekeyError as err:
        return _sites(request, 422 if err.status < 500 else err.status, say(err), f.values())
    return redirect(request, "/admin/sites", "program_saved")


def _keys(
    request: Request,
    status: int = 200,
    error: str | None = None,
    rotated: int | None = None,
    log_key: dict[str, str] | None = None,
):
    require_staff(request, Action.ADMINISTER)
    svc = services(request)
    due = skipped = None
    if svc.renewal is not None:
        plan = svc.renewal.plan()
        due, skipped = len(plan[0]), len(plan[1])
    version = svc.renewal.matcher.key_version if svc.renewal is not None else svc.deps.biometric_key_version
    return page(
        request,
        "admin_keys.html",
        status,
        version=version,
        due=due,
        skipped=skipped,
        error=error,
        rotated=rotated,
        report=None,
        log_key=log_key,
        public_key=svc.transparency.public_key().hex() if svc.deps.signer is not None else None,
    )


@router.get("/keys")
def keys(request: Request):
    return _keys(request)


@router.post("/keys/rotate-biometric", dependencies=CSRF)
def rotate_biometric(request: Request, form: Form):
    actor = require_staff(request, Action.ADMINISTER)
    if Fields(form).text("confirm") != "yes":
        return _keys(request, 422, gettext("tick the box to confirm the rotation"))
    settings = request.app.state.settings
    try:
        version = services(request).admin.rotate_key(
            actor, "biometric key (from the web UI)", lambda: bootstrap.rotate_biometric_key(settings)
        )
    except CarekeyError as err:
        return _keys(request, err.status, say(err))
    return _keys(request, rotated=version)


@router.post("/keys/rotate-log", dependencies=CSRF)
def rotate_log(request: Request, form: Form):
    actor = require_staff(request, Action.ADMINISTER)
    if Fields(form).text("confirm") != "yes":
        return _keys(request, 422, gettext("tick the box to confirm the rotation"))
    try:
        rotated = bootstrap.rotate_log_key_live(request.app.state.settings, services(request), actor)
    except CarekeyError as err:
        return _keys(request, err.status, say(err))
    services(request).transparency.tree_head()  # a head signed by the new key, for witnesses to fetch now
    return _keys(request, log_key=rotated)


@router.post("/keys/renew-biometric", dependencies=CSRF)
def renew_biometric(request: Request):
    actor = require_staff(request, Action.ADMINISTER)
    svc = services(request)
    if svc.renewal is None:
        return _keys(request, 409, gettext("no biometric matcher is configured"))
    report = svc.renewal.run(actor=actor)  # each renewal passes the policy and is in the person's own access log
    svc.transparency.tree_head()  # the renewals end with a signed tree head
    return page(
        request,
        "admin_keys.html",
        version=report.key_version,
        due=0,
        skipped=len(report.skipped),
        error=None,
        rotated=None,
        report=report,
        log_key=None,
        public_key=svc.transparency.public_key().hex() if svc.deps.signer is not None else None,
    )


@router.post("/fhir/send", dependencies=CSRF)
def fhir_send(request: Request):
    """``carekey fhir send --retry-failed``: requeue failed pushes and attempt every due one (each decided and
    logged by the service)."""
    actor = require_staff(request, Action.ADMINISTER)
    svc = services(request)
    if svc.fhir is None:
        return admin_home(request, actor, 409, error=gettext("FHIR pushes are not configured"))
    done = svc.fhir.send_due(actor, retry_failed=True)
    counts: dict[str, int] = {}
    for row in done:
        counts[row.status] = counts.get(row.status, 0) + 1
    return admin_home(request, actor, fhir_sent={"attempted": len(done), "by_status": counts})


@router.post("/retention", dependencies=CSRF)
def retention(request: Request, form: Form):
    """``carekey retention run``: each deletion is its own policy decision and log entry (the admin named as the
    actor); only counts are shown, never who."""
    actor = require_staff(request, Action.RETENTION_DELETE)
    if Fields(form).text("confirm") != "yes":
        return admin_home(request, actor, 422, error=gettext("tick the box to confirm the deletions"))
    svc = services(request)
    report = svc.retention.run(actor=actor)
    svc.transparency.tree_head()  # the deletions end with a signed tree head
    done = {
        "erased": len(report.erased),
        "templates_deleted": len(report.templates_deleted) + len(report.retired_templates_deleted),
        "images_deleted": len(report.images_deleted),
        "kept": len(report.kept),
    }
    return admin_home(request, actor, retention_done=done)
