"""``carekey node ...`` through the CLI: init on the laptop, approve and confirm by two central admins, sync,
status; a wrong passphrase refused (the README's "Working offline" commands)."""

import json

from typer.testing import CliRunner

from carekey.interfaces.cli.main import app
from tests.conftest import PASSWORD
from tests.e2e.test_node_sync import Central, central  # noqa: F401  (the central server fixture)

runner = CliRunner()
ENV = {
    "CAREKEY_ARGON2_TIME_COST": "1",
    "CAREKEY_ARGON2_MEMORY_KIB": "64",
    "CAREKEY_NODE_PASSPHRASE": "field laptop passphrase",
    "CAREKEY_DATABASE_URL": "",
    "CAREKEY_NODE_SYNC_TIMEOUT_SECONDS": "600",  # a shared, loaded test machine
}


def ck(*args, **env):
    r = runner.invoke(app, [str(a) for a in args], env=ENV | env)
    return r


def test_node_init_approve_confirm_sync_status(central: Central, tmp_path):  # noqa: F811
    node_dir = tmp_path / "laptop"
    central_dir, db = central.app.settings.data_dir, central.app.settings.resolved_database_url()
    r = ck("node", "init", "--data", node_dir, "--central", central.base, "--site", "north")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[: r.stdout.rindex("}") + 1])
    node_id, code = out["node_id"], out["code"]
    assert ck("node", "sync", "--data", node_dir).exit_code == 5  # not approved yet: refused

    r = ck(
        "node",
        "approve",
        node_id,
        "--code",
        code,
        "--data",
        central_dir,
        "--user",
        "admin",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert r.exit_code == 0, r.output
    r = ck(
        "node",
        "confirm",
        node_id,
        "--data",
        central_dir,
        "--user",
        "admin",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert r.exit_code == 5 and "another admin" in r.output  # the approver cannot confirm
    r = ck(
        "node",
        "confirm",
        node_id,
        "--data",
        central_dir,
        "--user",
        "admin2",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert r.exit_code == 0, r.output

    r = ck("node", "sync", "--data", node_dir)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["review"] == []
    status = json.loads(ck("node", "status", "--data", node_dir).stdout)
    assert status["node_id"] == node_id and status["state"]["last_sync_at"] and status["unacknowledged_batches"] == 0
    assert ck("node", "sync", "--data", node_dir, CAREKEY_NODE_PASSPHRASE="wrong passphrase").exit_code == 9

    listed = json.loads(
        ck(
            "node", "list", "--data", central_dir, "--user", "admin", CAREKEY_PASSWORD=PASSWORD, CAREKEY_DATABASE_URL=db
        ).stdout
    )
    assert [(n["id"], n["status"]) for n in listed] == [(node_id, "active")]
    conflicts = ck(
        "node",
        "conflicts",
        "--data",
        central_dir,
        "--user",
        "admin",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert conflicts.exit_code == 0 and json.loads(conflicts.stdout) == []  # the review list: nothing concurrent yet
    refused = ck(
        "node",
        "conflicts",
        "--data",
        central_dir,
        "--user",
        "registrar",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert refused.exit_code == 5  # an admin action (policy), refused and logged for anyone else
    r = ck(
        "node",
        "revoke",
        node_id,
        "--data",
        central_dir,
        "--user",
        "admin",
        CAREKEY_PASSWORD=PASSWORD,
        CAREKEY_DATABASE_URL=db,
    )
    assert r.exit_code == 0
    assert ck("node", "sync", "--data", node_dir).exit_code == 5
