"""The rights commands through the CLI: log head/verify (tampering caught), patient accesses with a receipt
checked offline, stats release/budget, retention, and a data folder from before the log key existed."""

import json
import stat

import pytest
import sqlalchemy as sa

from tests.e2e.dhis2_fake import FakeDhis2
from tests.e2e.test_cli import ck, data  # noqa: F401 - fixture reused


def creds(d):
    pw = {u: p for u, _, p in (line.split("\t") for line in (d / "demo-users.txt").read_text().splitlines())}
    card, pin = (d / "demo-patients.txt").read_text().split()
    return pw, card, pin


@pytest.fixture
def demo(data):  # noqa: F811
    r = ck("demo", "--data", data, "--people", 6)
    assert r.exit_code == 0, r.output
    return data


def test_log_key_0600_and_created_for_old_data_folders(demo):
    key = demo / "carekey.log.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.unlink()  # a lost log key, while the database holds heads signed with it: refuse, say what to restore
    r = ck("log", "head", "--data", demo)
    assert r.exit_code == 9 and "carekey.log.key is missing" in r.output and "restore" in r.output, r.output
    engine = sa.create_engine(f"sqlite:///{demo / 'carekey.db'}")
    with engine.begin() as conn:  # a folder initialized before the transparency log had a key (nor heads)
        conn.execute(sa.text("DELETE FROM tree_heads"))
        conn.execute(sa.text("DELETE FROM key_checks WHERE name = 'log_key'"))
    engine.dispose()
    r = ck("log", "head", "--data", demo)
    assert r.exit_code == 0, r.output
    assert key.exists() and json.loads(r.output)["signed_tree_head"]["tree_size"] > 0


def test_patient_accesses_receipt_checked_offline(demo, tmp_path):
    pw, card, pin = creds(demo)
    r = ck("patient", "accesses", "--data", demo, "--card", card, env={"CAREKEY_PIN": pin})
    assert r.exit_code == 0, r.output
    accesses = json.loads(r.output)
    assert {a["event"]["role"] for a in accesses} >= {"registrar", "clinician", "patient"}
    head = json.loads(ck("log", "head", "--data", demo).output)
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(accesses[0]))
    ok = ck("log", "check-receipt", receipt, "--public-key", head["public_key"])
    assert ok.exit_code == 0 and ok.output.startswith("VALID"), ok.output
    receipt.write_text(json.dumps(accesses[0] | {"event": accesses[0]["event"] | {"purpose": "audit"}}))
    bad = ck("log", "check-receipt", receipt, "--public-key", head["public_key"])
    assert bad.exit_code == 8 and bad.output.startswith("INVALID")
    assert ck("patient", "record", "--data", demo, "--card", card, env={"CAREKEY_PIN": "000000"}).exit_code == 4


def test_log_verify_catches_a_tampered_row(demo, tmp_path):
    pw, _, _ = creds(demo)
    heads = tmp_path / "heads.jsonl"
    assert ck("log", "head", "--data", demo, "--save", heads).exit_code == 0
    r = ck("log", "verify", "--data", demo, "--user", "auditor", "--heads", heads, password=pw["auditor"])
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True, r.output
    engine = sa.create_engine(f"sqlite:///{demo / 'carekey.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE access_log SET outcome = 'denied', reason = 'edited' WHERE seq = 3"))
    engine.dispose()
    r = ck("log", "verify", "--data", demo, "--user", "auditor", "--heads", heads, password=pw["auditor"])
    assert r.exit_code == 8
    problems = json.loads(r.stdout)["problems"]
    assert {"kind": "modified", "index": 3} in [{"kind": p["kind"], "index": p["index"]} for p in problems]
    assert ck("log", "verify", "--data", demo, "--user", "manager", password=pw["manager"]).exit_code == 5


def test_stats_release_budget_and_refusal(demo):
    pw, _, _ = creds(demo)
    m = pw["manager"]
    r = ck(
        "stats",
        "release",
        "--data",
        demo,
        "--user",
        "manager",
        "--statistic",
        "hypertension",
        "--epsilon",
        1,
        password=m,
    )
    assert r.exit_code == 0 and "95% CI" in r.output and "all districts" in r.output, r.output
    b = json.loads(ck("stats", "budget", "--data", demo, "--user", "manager", password=m).output)
    assert b["spent"] == pytest.approx(1.0) and b["limit"] == 2.0 and len(b["open_periods"]) == 6
    r = ck(
        "stats", "release", "--data", demo, "--user", "manager", "--statistic", "count", "--epsilon", 1.5, password=m
    )
    assert r.exit_code == 3 and "between 0.01 and 1" in r.output  # over the per-release cap: 422, nothing spent
    for _ in range(2):
        r = ck(
            "stats",
            "release",
            "--data",
            demo,
            "--user",
            "manager",
            "--statistic",
            "count",
            "--epsilon",
            0.6,
            password=m,
        )
    assert r.exit_code == 5 and "budget" in r.output.lower()  # 1 + 0.6 fits in 2, 1 + 0.6 + 0.6 does not
    r = ck(
        "stats",
        "release",
        "--data",
        demo,
        "--user",
        "manager",
        "--statistic",
        "count",
        "--epsilon",
        0.6,
        "--period",
        "2025",
        password=m,
    )
    assert r.exit_code == 0, r.output  # another period, its own budget
    rid = json.loads(ck("stats", "releases", "--data", demo, "--user", "manager", password=m).output)[0]["id"]
    r = ck("stats", "export", "--data", demo, "--user", "manager", "--release", rid, password=m)
    assert r.exit_code == 0 and r.output.startswith("program,period,statistic,level")
    r = ck(
        "stats",
        "release",
        "--data",
        demo,
        "--user",
        "clinician-north",
        "--statistic",
        "count",
        "--epsilon",
        1,
        password=pw["clinician-north"],
    )
    assert r.exit_code == 5


def test_retention_dry_run_then_run(demo):
    r = ck("retention", "run", "--data", demo, "--dry-run")
    assert r.exit_code == 0 and json.loads(r.output)["erased"] == 0  # counts only, never a list of people
    engine = sa.create_engine(f"sqlite:///{demo / 'carekey.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_seen_at = '2001-01-01 00:00:00'"))
    engine.dispose()
    planned = json.loads(ck("retention", "run", "--data", demo, "--years", 5, "--dry-run").output)
    assert planned["erased"] == 6
    done = json.loads(ck("retention", "run", "--data", demo, "--years", 5).output)
    assert done["erased"] == planned["erased"]
    assert "CK-" not in json.dumps(done)
    assert json.loads(ck("retention", "run", "--data", demo, "--years", 5, "--dry-run").output)["erased"] == 0


def test_stats_mapping_init_export_and_push_to_a_local_dhis2(demo):
    pw, _, _ = creds(demo)
    m = pw["manager"]
    r = ck(
        "stats",
        "release",
        "--data",
        demo,
        "--user",
        "manager",
        "--statistic",
        "count",
        "--epsilon",
        1,
        "--json",
        password=m,
    )
    assert r.exit_code == 0, r.output
    period = json.loads(r.output)["period"]
    assert ck("stats", "mapping", "init", "--data", demo, "--user", "manager", password=m).exit_code == 0
    assert ck("stats", "mapping", "init", "--data", demo, "--user", "manager", password=m).exit_code == 7  # kept
    path = demo / "dhis2-mapping.json"
    mapping = json.loads(path.read_text())
    assert set(mapping["orgUnits"]) == {"total", "Northern", "Southern"}
    mapping["orgUnits"]["total"] = "OuProgram01"
    mapping["dataElements"]["count"]["screened"] = "DeScreened1"
    path.write_text(json.dumps(mapping))
    with FakeDhis2("error") as dhis2:
        env = {"CAREKEY_DHIS2_URL": dhis2.url, "CAREKEY_DHIS2_USERNAME": "carekey", "CAREKEY_DHIS2_PASSWORD": "pw"}
        r = ck("stats", "push", "--data", demo, "--user", "manager", "--period", period, password=m, env=env)
        assert r.exit_code == 1 and "nothing is marked as sent" in r.output
        assert dhis2.requests[0]["headers"]["Authorization"].startswith("Basic ")
    with FakeDhis2("ok") as dhis2:
        env["CAREKEY_DHIS2_URL"] = dhis2.url
        r = ck("stats", "push", "--data", demo, "--user", "manager", "--period", period, password=m, env=env)
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["sent_values"] == 1 and out["import_summary"]["importCount"]["imported"] == 1
        assert dhis2.requests[0]["body"]["dataValues"][0]["dataElement"] == "DeScreened1"
    listed = json.loads(ck("stats", "releases", "--data", demo, "--user", "manager", password=m).output)
    assert listed[0]["sent_at"] is not None
    r = ck(
        "stats",
        "export",
        "--data",
        demo,
        "--user",
        "manager",
        "--release",
        listed[0]["id"],
        "--format",
        "dhis2",
        password=m,
    )
    assert r.exit_code == 0 and json.loads(r.output)["dataValues"][0]["value"].isdigit()


def test_patient_withdraws_and_says_yes_again_from_the_cli(demo):
    _, card, pin = creds(demo)
    env = {"CAREKEY_PIN": pin}
    r = ck("patient", "revoke", "aggregate_statistics", "--data", demo, "--card", card, env=env)
    assert r.exit_code == 0 and json.loads(r.output)["granted"] is False, r.output
    r = ck("patient", "grant", "aggregate_statistics", "--data", demo, "--card", card, env=env)
    assert r.exit_code == 0 and json.loads(r.output)["granted"] is True, r.output
    again = ck("patient", "grant", "aggregate_statistics", "--data", demo, "--card", card, env=env)
    assert again.exit_code != 0 and "already granted" in again.output
