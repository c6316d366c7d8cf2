"""Staff accounts in the web UI (issue 11): an admin adds an account that awaits a second person's approval, cannot
approve it, the program manager can; reset and deactivation; every staff member changes their own password."""

import re

from tests.conftest import PASSWORD
from tests.e2e.web_support import sign_in


def _row(html, username):
    m = re.search(rf'<tr data-username="{username}">(.*?)</tr>', html, re.S)
    assert m, f"no row for {username}"
    return m.group(1)


def test_admin_adds_an_account_that_a_second_person_approves(web):
    client, _, built = web
    token = sign_in(client, "admin")
    r = client.post(
        "/accounts",
        data={
            "csrf": token,
            "username": "newnurse",
            "role": "clinician",
            "site": ["north"],
            "password": "a long password!",
        },
    )
    assert r.status_code == 200 and "awaiting approval" in _row(r.text, "newnurse")
    r = client.post("/accounts/newnurse/approve", data={"csrf": token})
    assert r.status_code == 403 and "someone other than who created" in r.text
    client.post("/logout", data={"csrf": token})
    token = sign_in(client, "manager")
    r = client.get("/accounts")
    assert "newnurse" in r.text and "registrar" not in re.findall(r'data-username="([^"]+)"', r.text)
    r = client.post("/accounts/newnurse/approve", data={"csrf": token})
    assert r.status_code == 200 and 'data-username="newnurse"' not in r.text  # no longer pending
    assert built.services.auth.login("newnurse", "a long password!").actor.approved
    client.post("/logout", data={"csrf": token})
    token = sign_in(client, "admin")
    r = client.post("/accounts/newnurse/deactivate", data={"csrf": token})
    assert "deactivated" in _row(r.text, "newnurse")
    r = client.post("/accounts/registrar/password", data={"csrf": token, "password": "the admin knows it"})
    assert "awaiting approval" in _row(r.text, "registrar")
    counts = {a.action for a in built.services.transparency.admin_actions()}
    assert {"admin_add_user", "admin_approve_user", "admin_deactivate", "admin_reset_password"} <= counts


def test_a_registrar_cannot_open_the_account_screen_and_changes_their_own_password(web):
    client, _, built = web
    token = sign_in(client)
    assert client.get("/accounts").status_code == 403
    r = client.post("/password", data={"csrf": token, "current": "wrong one!", "new": "a brand new password"})
    assert r.status_code == 401 and 'id="password-error"' in r.text
    r = client.post("/password", data={"csrf": token, "current": PASSWORD, "new": "a brand new password"})
    assert r.status_code == 200 and "Your password was changed" in r.text
    assert built.services.auth.login("registrar", "a brand new password").actor.approved  # approval kept
