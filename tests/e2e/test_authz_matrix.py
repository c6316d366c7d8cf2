"""The authorization matrix: every API route x principal x purpose, expected allow/deny in ONE table.

A route added to the app without an entry here fails ``test_every_route_has_an_entry``. The table is then
exercised through the API: "allow" means a 2xx answer, "deny" a 401/403/404 problem. Routes without a purpose
header (visits, admin, patient, public) are exercised without one (purpose column: ``-``).
"""

import itertools
import json

import pytest

from carekey.domain.purposes import Purpose
from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD
from tests.e2e.dhis2_fake import FakeDhis2
from tests.integration.helpers import consent, person_input

STAFF = ("registrar", "clinician", "manager", "auditor", "admin")
PRINCIPALS = (*STAFF, "patient", "anonymous")
PURPOSES = (*(p.value for p in Purpose), "law_enforcement")
PUBLIC = frozenset(PRINCIPALS)
R, C, M, A, AD = "registrar", "clinician", "manager", "auditor", "admin"
CARE, STATS, AUDIT = "care_record", "aggregate_statistics", "audit"

# (method, path) -> allowed: a set of principals (no purpose header) or of (principal, purpose) pairs
MATRIX: dict[tuple[str, str], frozenset] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/swagger-init.js"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/transparency/refusals"): PUBLIC,
    ("GET", "/transparency/tree-head"): PUBLIC,
    ("GET", "/transparency/tree-heads"): PUBLIC,
    ("GET", "/transparency/consistency"): PUBLIC,
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/patient/token"): PUBLIC,  # credentials in the body
    ("DELETE", "/auth/token"): frozenset(STAFF),
    ("GET", "/auth/me"): frozenset(STAFF),
    ("POST", "/visits"): frozenset({R, C}),
    ("GET", "/visits/{visit_id}"): frozenset({R, C}),
    ("POST", "/visits/{visit_id}/close"): frozenset({R, C}),
    ("POST", "/visits/{visit_id}/screenings"): frozenset({R, C}),
    ("POST", "/visits/{visit_id}/people"): frozenset({(R, CARE)}),
    ("POST", "/visits/{visit_id}/lookup"): frozenset({(R, CARE)}),
    ("GET", "/visits/{visit_id}/people/{person_id}"): frozenset({(R, CARE), (C, CARE)}),
    ("DELETE", "/visits/{visit_id}/people/{person_id}"): frozenset({(R, CARE)}),
    ("GET", "/visits/{visit_id}/people/{person_id}/consents"): frozenset({(R, CARE), (C, CARE)}),
    ("POST", "/visits/{visit_id}/people/{person_id}/consents"): frozenset({(R, CARE)}),
    ("POST", "/visits/{visit_id}/people/{person_id}/pin"): frozenset({(R, CARE)}),
    ("POST", "/visits/{visit_id}/people/{person_id}/exams"): frozenset({(C, CARE)}),
    ("GET", "/visits/{visit_id}/people/{person_id}/exams"): frozenset({(C, CARE)}),
    ("GET", "/patient/record"): frozenset({"patient"}),
    ("GET", "/patient/consents"): frozenset({"patient"}),
    ("POST", "/patient/consents/{purpose}/revoke"): frozenset({"patient"}),
    ("POST", "/patient/consents/{purpose}/grant"): frozenset({"patient"}),
    ("GET", "/patient/accesses"): frozenset({"patient"}),
    ("GET", "/patient/export"): frozenset({"patient"}),
    ("POST", "/patient/erasure"): frozenset({"patient"}),
    ("DELETE", "/patient/token"): frozenset({"patient"}),
    ("POST", "/stats/releases"): frozenset({(M, STATS)}),
    ("GET", "/stats/budget"): frozenset({(M, STATS)}),
    ("GET", "/stats/releases"): frozenset({(M, STATS)}),
    ("GET", "/stats/releases/{release_id}"): frozenset({(M, STATS)}),
    ("GET", "/stats/releases/{release_id}/csv"): frozenset({(M, STATS)}),
    ("GET", "/stats/releases/{release_id}/dhis2"): frozenset({(M, STATS)}),
    ("POST", "/stats/push"): frozenset({(M, STATS)}),
    ("GET", "/audit/verify"): frozenset({(A, AUDIT)}),
    ("POST", "/audit/verify"): frozenset({(A, AUDIT)}),
    ("POST", "/admin/users"): frozenset({AD}),
    ("GET", "/admin/users"): frozenset({AD}),
    ("GET", "/transparency/admin-actions"): PUBLIC,
    ("POST", "/auth/password"): frozenset(STAFF),
    ("POST", "/visits/{visit_id}/people/{person_id}/erase"): frozenset({(R, CARE)}),
    ("POST", "/admin/users/{username}/approve"): frozenset({AD, M}),
    ("PATCH", "/admin/users/{username}"): frozenset({AD}),
    ("POST", "/admin/users/{username}/password"): frozenset({AD}),
    ("POST", "/admin/users/{username}/deactivate"): frozenset({AD}),
    ("POST", "/admin/users/{username}/reactivate"): frozenset({AD}),
    ("GET", "/fhir/metadata"): PUBLIC,
    ("GET", "/patient/export/fhir"): frozenset({"patient"}),
    ("GET", "/admin/fhir/queue"): frozenset({AD}),
    ("POST", "/visits/{visit_id}/identify"): frozenset({(R, "biometric_identification")}),
    ("POST", "/visits/{visit_id}/people/{person_id}/biometrics"): frozenset({(R, "biometric_identification")}),
    ("POST", "/visits/{visit_id}/people/{person_id}/duplicate/confirm"): frozenset({(R, CARE)}),
    # site nodes (issue 19): no staff account, patient or anonymous caller; only a registered node's signed request
    ("POST", "/sync/register"): frozenset(),
    ("POST", "/sync/push"): frozenset(),
    ("GET", "/sync/changes"): frozenset(),
}
# multipart image routes, and the answer to a possible duplicate (it needs one first): their policy is walked by
# tests/e2e/test_api_biometrics.py and tests/integration/test_enrollment_duplicates.py, not by the generic walk
NOT_WALKED = {
    ("POST", "/visits/{visit_id}/identify"),
    ("POST", "/visits/{visit_id}/people/{person_id}/biometrics"),
    ("POST", "/visits/{visit_id}/people/{person_id}/duplicate/confirm"),
    # signed by a node key, not a bearer token: walked by tests/e2e/test_node_sync.py (unknown, unapproved, revoked
    # nodes, forged signatures, replayed requests)
    ("POST", "/sync/register"),
    ("POST", "/sync/push"),
    ("GET", "/sync/changes"),
}
# routes whose allowed call destroys its context (person, visit, token): each call gets a fresh one
FRESH = {
    ("DELETE", "/visits/{visit_id}/people/{person_id}"),
    ("POST", "/visits/{visit_id}/close"),
    ("POST", "/visits/{visit_id}/people/{person_id}/erase"),
    ("POST", "/visits/{visit_id}/people/{person_id}/pin"),  # a PIN change ends the person's portal sessions
    ("DELETE", "/auth/token"),
    ("DELETE", "/patient/token"),
    ("POST", "/patient/erasure"),
}


def app_routes(app):
    """(method, path) of every route of the app, including those of included routers."""
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for c in contexts:
            for method in sorted(set(getattr(c, "methods", None) or ()) - {"HEAD", "OPTIONS"}):
                yield method, c.path


def test_every_route_has_an_entry(app, world):
    routes = set(app_routes(create_app(app.settings, built=app)))
    assert routes, "no routes found: the enumeration is broken"
    missing = routes - set(MATRIX)
    assert not missing, f"routes without an authorization-matrix entry: {sorted(missing)}"
    assert not set(MATRIX) - routes, f"entries for routes that no longer exist: {sorted(set(MATRIX) - routes)}"


class Ctx:
    n = 0

    def __init__(self, app, world, client):
        self.app, self.world, self.client, self.s = app, world, client, app.services
        self.visit, self.person, self.card = self.new_person()
        self.release = self.s.statistics.release(world.manager, STATS, "count", 0.1)["id"]  # one to read and push
        mapping = app.settings.resolved_dhis2_mapping_file()
        mapping.write_text(json.dumps(self.s.statistics.mapping_template(world.manager, STATS)))
        self.tokens = {name: self.token(name) for name in PRINCIPALS}
        from carekey.services.admin import LOCAL_OPERATOR  # the account the admin routes act on

        self.s.admin.add_user(LOCAL_OPERATOR, "target", "clinician", "long enough password", ["north"])

    def new_person(self):
        Ctx.n += 1
        card = f"MX{Ctx.n:04d}"
        visit = self.s.visits.open(self.world.registrar, "north")
        view = self.s.people.enroll(
            self.world.registrar,
            visit.id,
            CARE,
            person_input(card_number=card),
            consent(),
            pin="246813",
            confirm_new=True,
        )
        return visit.id, view.person.id, card

    def token(self, name):
        if name == "anonymous":
            return None
        if name == "patient":
            r = self.client.post("/patient/token", json={"card_number": self.card, "pin": "246813"})
        else:
            r = self.client.post("/auth/token", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def body(self, method, path):
        Ctx.n += 1
        return (
            {
                "/auth/token": {"username": "auditor", "password": PASSWORD},
                "/patient/token": {"card_number": self.card, "pin": "246813"},
                "/visits": {"site_id": "north"},
                "/visits/{visit_id}/screenings": {"systolic_bp": 120, "diastolic_bp": 80},
                "/visits/{visit_id}/people": {
                    "person": {
                        "given_name": "Kwame",
                        "family_name": "Boateng",
                        "sex": "male",
                        "birth_year": 1975,
                        "card_number": f"MB{Ctx.n:05d}",
                    },
                    "consent": {"granted": ["care_record"], "notice_version": "v1", "language": "en"},
                },
                "/visits/{visit_id}/lookup": {"card_number": self.card},
                "/visits/{visit_id}/people/{person_id}/consents": {
                    "purpose": "aggregate_statistics",
                    "granted": True,
                    "notice_version": "v1",
                    "language": "en",
                },
                "/visits/{visit_id}/people/{person_id}/exams": {"systolic_bp": 121, "diastolic_bp": 81},
                "/visits/{visit_id}/people/{person_id}/pin": {"pin": "246813"},
                "/stats/releases": {"statistic": "count", "epsilon": 0.01},
                "/stats/push": {"period": self.s.statistics.budget(self.world.manager, STATS).period},
                "/audit/verify": {"heads": []},
                "/admin/users": {"username": f"user{Ctx.n}", "role": "auditor", "password": "long enough password"},
                "/auth/password": {"current_password": PASSWORD, "new_password": PASSWORD},
                "/admin/users/{username}": {"display_name": "Target"},
                "/admin/users/{username}/password": {"password": "another long password"},
                "/visits/{visit_id}/people/{person_id}/erase": {"presence": {"pin": "246813"}},
            }.get(path)
            if method in ("POST", "PUT", "PATCH")
            else None
        )

    def call(self, method, path, principal, purpose):
        fresh = (method, path) in FRESH
        visit, person, card = self.new_person() if fresh else (self.visit, self.person, self.card)
        if fresh and principal == "patient":
            token = self.client.post("/patient/token", json={"card_number": card, "pin": "246813"}).json()[
                "access_token"
            ]
        else:
            token = self.token(principal) if fresh and principal in STAFF else self.tokens[principal]
        if path in ("/visits/{visit_id}/people", "/visits/{visit_id}/lookup"):  # a visit not yet serving anyone
            visit = self.s.visits.open(self.world.registrar, "north").id
        url = path.format(
            visit_id=visit,
            person_id=person,
            purpose="biometric_identification",
            username="target",
            release_id=self.release,
        )
        if path == "/transparency/consistency":
            url += "?first=0&second=1"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if purpose:
            headers["X-Carekey-Purpose"] = purpose
        return self.client.request(method, url, headers=headers, json=self.body(method, path))


def cases():
    for (method, path), allowed in MATRIX.items():
        if (method, path) in NOT_WALKED:
            continue
        header = any(isinstance(a, tuple) for a in allowed)
        for principal, purpose in itertools.product(PRINCIPALS, PURPOSES if header else (None,)):
            yield method, path, principal, purpose, ((principal, purpose) if header else principal) in allowed


def test_matrix_through_the_api(app, world, client):
    # the walk enrolls a person per case: far more searches than one account's hour (limits: tests/e2e/test_redteam)
    app.settings.identifications_per_hour = app.settings.identifications_per_site_per_day = 100_000
    ctx = Ctx(app, world, client)
    with FakeDhis2() as dhis2:
        app.settings.dhis2_url = dhis2.url
        check_matrix(ctx)


def check_matrix(ctx):
    wrong = []
    for method, path, principal, purpose, allow in cases():
        r = ctx.call(method, path, principal, purpose)
        ok = r.status_code < 300 if allow else r.status_code in (401, 403, 404)
        if not ok:
            wrong.append(
                f"{method} {path} as {principal} for {purpose}: expected {'allow' if allow else 'deny'}, "
                f"got {r.status_code} {r.text[:160]}"
            )
        elif not allow and purpose == "law_enforcement" and principal in STAFF:
            assert r.json()["type"] == "urn:carekey:problem:refused-purpose", (method, path, r.text)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "purpose",
    [
        "law_enforcement",
        "security",
        "watchlist",
        "kinship",
        "bulk_export",
        "persons_of_interest",
        "dna_identification",
        "marketing",
    ],
)
def test_each_refused_purpose_refused_logged_and_counted(app, world, client, login, purpose):
    ctx = Ctx(app, world, client)
    h = login("registrar") | {"X-Carekey-Purpose": purpose}
    r = client.get(f"/visits/{ctx.visit}/people/{ctx.person}", headers=h)
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:refused-purpose"
    label = purpose if purpose != "marketing" else "other"
    counts = {c["purpose"]: c["count"] for c in client.get("/transparency/refusals").json()}
    assert counts == {label: 1}
    with app.database.uow() as uow:
        last = uow.access_log.for_person(ctx.person)[-1].event
    assert (last.outcome, last.purpose, last.role) == ("refused", label, "registrar")
