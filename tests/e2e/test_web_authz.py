"""The authorization matrix of the web screens, derived from the policy table (issue 11): each screen that reads
or writes personal data is mapped to the policy action it performs, and exactly the roles that ``RULES`` allows
for that action may open it. A screen added without an entry here fails ``test_every_screen_has_an_entry``."""

import pytest
from fastapi.testclient import TestClient

from carekey.interfaces.web.routes import ROUTERS
from carekey.policy.decision import RULES, Action
from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.web_support import sign_in

ROLES = {
    "registrar": "registrar",
    "clinician": "clinician",
    "manager": "program_manager",
    "auditor": "auditor",
    "admin": "admin",
}
# GET screen -> the policy action it serves (its roles come from RULES), or an explicit set of usernames
SCREENS = {
    "/visit/{visit_id}": Action.READ_PERSON,
    "/visit/{visit_id}/consent": Action.RECORD_CONSENT,
    "/visit/{visit_id}/exam": Action.RECORD_EXAM,
    "/visit/{visit_id}/capture": Action.ENROLL_BIOMETRIC,
    "/dashboard": Action.STATISTICS,
    "/auditor": Action.VERIFY_LOG,
    "/accounts": Action.APPROVE_ACCOUNT,
    "/followup": Action.FOLLOWUP_LIST,
    "/admin/sites": Action.ADMINISTER,
    "/admin/keys": Action.ADMINISTER,
    "/node": Action.SYNC_NODE,  # a site node's sync screen (on a central registry: "not a site node")
}
OPEN_TO_STAFF = {"/", "/password", "/transparency", "/login", "/me/login"}
PATIENT_ONLY = {"/me", "/me/consents", "/me/access", "/me/erase"}
NOT_BOUND = {"/visit/{visit_id}/enroll", "/visit/{visit_id}/screening"}  # forms for a visit serving nobody yet
# a release's page and downloads (manager of its program: tests/e2e/test_web_portal.py), the visit slip
# (registrar or clinician of the visit: tests/e2e/test_web_slip.py)
TESTED_ELSEWHERE = {
    "/dashboard/releases/{release_id}",
    "/dashboard/releases/{release_id}/csv",
    "/dashboard/releases/{release_id}/dhis2",
    "/visit/{visit_id}/slip",
}


def test_every_screen_has_an_entry():
    screens = {r.path for router in ROUTERS for r in router.routes if "GET" in getattr(r, "methods", ())}
    assert screens == set(SCREENS) | OPEN_TO_STAFF | PATIENT_ONLY | NOT_BOUND | TESTED_ELSEWHERE


@pytest.mark.parametrize("path", sorted(SCREENS))
def test_screen_roles_follow_the_policy(web, path):
    client, app, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")  # Ama granted biometrics: every visit screen applies to her
    allowed = {u for u, role in ROLES.items() if role in {r.value for r in RULES[SCREENS[path]].roles}}
    for username in ROLES:
        with TestClient(app) as c:
            sign_in(c, username)
            r = c.get(path.format(visit_id=vid), follow_redirects=False)
        if username in allowed:
            assert r.status_code == 200, (path, username, r.status_code)
        else:
            assert r.status_code in (401, 403, 404), (path, username, r.status_code)
