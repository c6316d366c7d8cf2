"""The CLI through typer's CliRunner: init, demo, users, one scripted visit, refusals, bad input, --help."""

import json
import stat

import pytest
from typer.testing import CliRunner

from carekey.interfaces.cli.main import app

runner = CliRunner()


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKEY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CAREKEY_ARGON2_MEMORY_KIB", "64")
    monkeypatch.delenv("CAREKEY_DATABASE_URL", raising=False)
    d = tmp_path / "var"
    r = runner.invoke(app, ["init", "--data", str(d)])
    assert r.exit_code == 0, r.output
    return d


def ck(*args, password=None, env=None):
    env = dict(env or {})
    if password:
        env["CAREKEY_PASSWORD"] = password
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_init_is_idempotent_only_when_asked(data):
    assert stat.S_IMODE((data / "carekey.keys").stat().st_mode) == 0o600
    assert ck("init", "--data", data).exit_code == 7
    assert ck("init", "--data", data, "--if-missing").exit_code == 0


def test_demo_seeds_once(data):
    r = ck("demo", "--data", data, "--people", 6, "--if-empty")
    assert r.exit_code == 0, r.output
    assert "6 people" in r.output and "registrar-north" in r.output
    assert "not seeded" in ck("demo", "--data", data, "--if-empty").output
    lines = (data / "demo-users.txt").read_text().splitlines()
    assert len(lines) == 7 and stat.S_IMODE((data / "demo-users.txt").stat().st_mode) == 0o600


def test_scripted_visit(data):
    assert ck("demo", "--data", data, "--people", 2).exit_code == 0
    pw = {u: p for u, _, p in (line.split("\t") for line in (data / "demo-users.txt").read_text().splitlines())}
    r = ck(
        "user",
        "add",
        "--data",
        data,
        "nurse-ama",
        "--role",
        "clinician",
        "--site",
        "north",
        "--user",
        "admin",  # the folder has an admin: account changes are signed by one (red-team F3)
        env={"CAREKEY_NEW_PASSWORD": "a long password", "CAREKEY_PASSWORD": pw["admin"]},
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["approved"] is False  # reaches nothing yet
    nurse0 = ["--data", data, "--user", "nurse-ama"]
    assert ck("visit", "open", *nurse0, "--site", "north", password="a long password").exit_code == 5
    r = ck("user", "approve", "--data", data, "nurse-ama", "--user", "admin", password=pw["admin"])
    assert r.exit_code != 0  # not by the admin who created it
    r = ck("user", "approve", "--data", data, "nurse-ama", "--user", "manager", password=pw["manager"])
    assert r.exit_code == 0 and json.loads(r.output)["approved"] is True, r.output
    reg = ["--data", data, "--user", "registrar-north"]
    visit = json.loads(ck("visit", "open", *reg, "--site", "north", password=pw["registrar-north"]).output)["id"]
    r = ck(
        "person",
        "enroll",
        *reg,
        "--visit",
        visit,
        "--given",
        "Kofi",
        "--family",
        "Asante",
        "--sex",
        "male",
        "--birth-year",
        1966,
        "--card",
        "NK7777",
        "--consent",
        "care_record",
        password=pw["registrar-north"],
    )
    assert r.exit_code == 0, r.output
    pid = json.loads(r.output)["person"]["id"]
    nurse = ["--data", data, "--user", "nurse-ama", "--visit", visit]
    r = ck("exam", "record", *nurse, pid, "--systolic", 900, "--diastolic", 80, password="a long password")
    assert r.exit_code == 3 and "plausible range" in r.output
    r = ck(
        "exam",
        "record",
        *nurse,
        pid,
        "--systolic",
        135,
        "--diastolic",
        85,
        "--blood-type",
        "AB-",
        password="a long password",
    )
    assert r.exit_code == 0, r.output
    listed = json.loads(ck("exam", "list", *nurse, pid, password="a long password").output)
    assert len(listed) == 1 and listed[0]["observations"][0]["loinc"] == "8480-6"
    r = ck(
        "person",
        "lookup",
        *reg,
        "--visit",
        visit,
        "--card",
        "NK7777",
        "--purpose",
        "kinship",
        password=pw["registrar-north"],
    )
    assert r.exit_code == 5 and "kinship" in r.output
    r = ck("person", "lookup", *reg, "--visit", visit, "--card", "NK7777", password=pw["registrar-north"])
    assert r.exit_code == 5 and "already serves" in r.output  # this visit serves Kofi: no searching for others
    again = json.loads(ck("visit", "open", *reg, "--site", "north", password=pw["registrar-north"]).output)["id"]
    r = ck("person", "lookup", *reg[:4], "--visit", again, "--card", "NK7777", password=pw["registrar-north"])
    assert json.loads(r.output)[0]["person_id"] == pid
    assert "kinship" in ck("transparency", "refusals", "--data", data).output
    r = ck("visit", "close", *reg, visit, password=pw["registrar-north"])
    assert r.exit_code == 0
    r = ck("exam", "list", *nurse, pid, password="a long password")
    assert r.exit_code == 5 and "closed" in r.output
    assert ck("visit", "open", *reg, "--site", "north", password="wrong").exit_code == 4


def _commands(typer_app, prefix=()):
    import typer.main

    group = typer.main.get_command(typer_app)
    stack = [(prefix, group)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append(((*path, name), sub))


def test_help_everywhere():
    paths = list(_commands(app))
    assert ("person", "enroll") in paths and ("transparency", "refusals") in paths
    for path in paths:
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, path


def test_cli_pin_reset_needs_the_person_s_proof(data):
    """Issue 11 through the CLI: a registrar resets a portal PIN only with the person's proof of presence."""
    assert ck("demo", "--data", data, "--people", 2).exit_code == 0
    pw = {u: p for u, _, p in (line.split("\t") for line in (data / "demo-users.txt").read_text().splitlines())}
    card, pin = (data / "demo-patients.txt").read_text().split()[:2]
    reg = ["--data", data, "--user", "registrar-north"]
    visit = json.loads(ck("visit", "open", *reg, "--site", "north", password=pw["registrar-north"]).output)["id"]
    pid = json.loads(
        ck("person", "lookup", *reg, "--visit", visit, "--card", card, password=pw["registrar-north"]).output
    )[0]["person_id"]
    assert ck("person", "show", *reg, "--visit", visit, pid, password=pw["registrar-north"]).exit_code == 0
    r = ck(
        "person",
        "set-pin",
        *reg,
        "--visit",
        visit,
        pid,
        password=pw["registrar-north"],
        env={"CAREKEY_NEW_PIN": "808080"},
    )
    assert r.exit_code == 5 and "prove they are here" in r.output
    r = ck(
        "person",
        "set-pin",
        *reg,
        "--visit",
        visit,
        pid,
        "--person-pin",
        password=pw["registrar-north"],
        env={"CAREKEY_NEW_PIN": "808080", "CAREKEY_PRESENCE_PIN": pin},
    )
    assert r.exit_code == 0, r.output
    assert ck("patient", "record", "--data", data, "--card", card, env={"CAREKEY_PIN": "808080"}).exit_code == 0
