"""Every web route's role gate comes from the policy table (issue 20, item 1).

Each route names the policy action it performs in ``require_staff(request, Action.X)`` (read here from the route's
source); the roles it lets through are then ``RULES[Action.X].roles``, and nothing else: a gate written as a
list of roles, or a route whose gate lets through other roles than the table, fails. Every route is requested by
every role (GET and POST, with the CSRF token): the roles the table allows pass the gate, the others get the
gate's 403. Whether the request then succeeds is the service's decision (``policy.decide`` with the whole
request), tested elsewhere."""

from __future__ import annotations

import ast
import inspect
import textwrap

from fastapi.testclient import TestClient

from carekey.interfaces.web.routes import ROUTERS
from carekey.policy.decision import RULES, Action, roles_for
from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.web_support import sign_in

USERS = {
    "registrar": "registrar",
    "clinician": "clinician",
    "manager": "program_manager",
    "auditor": "auditor",
    "admin": "admin",
}
GATE = "this screen is for"


def _gate(fn):  # type: ignore[no-untyped-def]
    """The action named by the first ``require_staff`` call of ``fn`` in source order (directly, or in a module
    function it calls): ``None`` for a gate that only wants a signed-in staff member, ``False`` without a gate."""
    module = inspect.getmodule(fn)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        args = node.args
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "run_in_threadpool" and args and isinstance(args[0], ast.Name) and args[0].id == "require_staff":
            args = args[1:]
        elif name != "require_staff":
            helper = getattr(module, name, None) if name else None
            if inspect.isfunction(helper) and helper.__module__ == fn.__module__ and helper is not fn:
                found = _gate(helper)
                if found is not False:
                    return found
            continue
        if len(args) < 2:
            return None
        gate = args[1]
        assert isinstance(gate, ast.Attribute) and isinstance(gate.value, ast.Name) and gate.value.id == "Action", (
            f"{fn.__module__}.{fn.__name__}: the gate must name a policy action, not roles: {ast.unparse(gate)}"
        )
        return Action[gate.attr]
    return False


def _gated_routes() -> list[tuple[str, str, Action]]:
    routes = []
    for router in ROUTERS:
        for r in router.routes:
            action = _gate(r.endpoint)
            if isinstance(action, Action):
                routes += [(method, r.path, action) for method in sorted(getattr(r, "methods", set()) - {"HEAD"})]
    return routes


GATED = _gated_routes()
A = Action
# what each gated route does, in the policy's words: changing a route's gate means changing this table on purpose
EXPECTED = {
    ("POST", "/visit"): A.HANDLE_VISIT,
    ("GET", "/visit/{visit_id}"): A.HANDLE_VISIT,
    ("POST", "/visit/{visit_id}/close"): A.HANDLE_VISIT,
    ("POST", "/visit/{visit_id}/pin"): A.SET_PIN,
    ("POST", "/visit/{visit_id}/task"): A.ENROLL_BIOMETRIC,
    ("GET", "/node"): A.SYNC_NODE,
    ("POST", "/node/sync"): A.SYNC_NODE,
    ("POST", "/visit/{visit_id}/lookup"): A.LOOKUP,
    ("POST", "/visit/{visit_id}/confirm"): A.LOOKUP,
    ("POST", "/visit/{visit_id}/identify"): A.IDENTIFY_BIOMETRIC,
    ("GET", "/visit/{visit_id}/enroll"): A.ENROLL,
    ("POST", "/visit/{visit_id}/enroll"): A.ENROLL,
    ("GET", "/visit/{visit_id}/consent"): A.RECORD_CONSENT,
    ("POST", "/visit/{visit_id}/consent"): A.RECORD_CONSENT,
    ("GET", "/visit/{visit_id}/capture"): A.ENROLL_BIOMETRIC,
    ("POST", "/visit/{visit_id}/capture"): A.ENROLL_BIOMETRIC,
    ("POST", "/visit/{visit_id}/same-person"): A.ENROLL_BIOMETRIC,
    ("GET", "/visit/{visit_id}/exam"): A.RECORD_EXAM,
    ("POST", "/visit/{visit_id}/exam"): A.RECORD_EXAM,
    ("GET", "/visit/{visit_id}/screening"): A.SCREEN,
    ("POST", "/visit/{visit_id}/screening"): A.SCREEN,
    ("GET", "/visit/{visit_id}/slip"): A.READ_PERSON,
    ("GET", "/dashboard"): A.STATISTICS,
    ("POST", "/dashboard"): A.STATISTICS,
    ("GET", "/dashboard/releases/{release_id}"): A.STATISTICS,
    ("GET", "/dashboard/releases/{release_id}/csv"): A.STATISTICS,
    ("GET", "/dashboard/releases/{release_id}/dhis2"): A.STATISTICS,
    ("GET", "/auditor"): A.VERIFY_LOG,
    ("POST", "/auditor"): A.VERIFY_LOG,
    ("GET", "/accounts"): A.APPROVE_ACCOUNT,
    ("POST", "/accounts/{username}/{action}"): A.APPROVE_ACCOUNT,
    ("POST", "/accounts"): A.ADMINISTER,
    ("POST", "/visit/{visit_id}/referral"): A.RECORD_REFERRAL,
    ("POST", "/visit/{visit_id}/referral/{referral_id}/close"): A.CLOSE_REFERRAL,
    ("GET", "/followup"): A.FOLLOWUP_LIST,
    ("POST", "/followup/{referral_id}/close"): A.CLOSE_REFERRAL,
    ("GET", "/admin/sites"): A.ADMINISTER,
    ("POST", "/admin/sites"): A.ADMINISTER,
    ("GET", "/admin/keys"): A.ADMINISTER,
    ("POST", "/admin/keys/rotate-biometric"): A.ADMINISTER,
    ("POST", "/admin/keys/renew-biometric"): A.ADMINISTER,
    ("POST", "/admin/programs"): A.ADMINISTER,
    ("POST", "/admin/keys/rotate-log"): A.ADMINISTER,
    ("POST", "/admin/fhir/send"): A.ADMINISTER,
    ("POST", "/admin/retention"): A.RETENTION_DELETE,
}


def test_every_role_gate_names_the_policy_action_of_its_route():
    assert {(m, p): a for m, p, a in GATED} == EXPECTED
    for _, path, action in GATED:
        assert action in RULES, (path, action)


def _url(path: str, vid: str) -> str:
    return path.format(visit_id=vid, username="registrar", action="noop", release_id="R-NONE", referral_id="RF-NONE")


def test_each_route_lets_through_exactly_the_roles_of_its_policy_action(web):
    client, app, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")  # a visit serving a person: every visit screen applies
    wrong = []
    for username, role in USERS.items():
        with TestClient(app) as c:
            token = sign_in(c, username)
            for method, path, action in GATED:
                url = _url(path, vid)
                r = (
                    c.get(url, follow_redirects=False)
                    if method == "GET"
                    else c.post(url, data={"csrf": token}, follow_redirects=False)
                )
                refused_by_gate = r.status_code == 403 and GATE in r.text
                if refused_by_gate is (role in {x.value for x in roles_for(action)}):
                    wrong.append((method, path, username, r.status_code))
    assert not wrong, wrong
