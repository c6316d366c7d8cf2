"""Insider attacks on ``carekey person capture|identify`` with a staff account of another site and with the admin
account, a person id learned elsewhere, and refused purposes: each is refused with exit code 5 (or 3 for bad
input), nothing stored, the refusal in the log."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import ck, data  # noqa: F401  (the fixture)
from tests.e2e.test_cli_biometrics import FP, templates


def passwords(data_dir):
    return {u: p for u, _, p in (line.split("\t") for line in (data_dir / "demo-users.txt").read_text().splitlines())}


def open_visit(data_dir, user, site, pw):
    r = ck("visit", "open", "--data", data_dir, "--user", user, "--site", site, password=pw[user])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)["id"]


def capture(data_dir, user, visit, pid, pw, *extra):
    return ck(
        "person", "capture", "--data", data_dir, "--user", user, "--visit", visit, pid, "--modality", "fingerprint",
        "--position", "right_index", "--image", FP / "db1_101_1.tif", *extra, password=pw[user],
    )  # fmt: skip


def identify(data_dir, user, visit, pw, *extra):
    return ck(
        "person", "identify", "--data", data_dir, "--user", user, "--visit", visit, "--modality", "fingerprint",
        "--image", f"right_index={FP / 'db1_101_2.tif'}", "--person-agreed", *extra, password=pw[user],
    )  # fmt: skip


def test_cli_capture_and_identify_refuse_the_insider(data):  # noqa: F811
    assert ck("demo", "--data", data, "--people", 1).exit_code == 0
    pw = passwords(data)
    reg = "registrar-north"
    visit = open_visit(data, reg, "north", pw)
    r = ck(
        "person", "enroll", "--data", data, "--user", reg, "--visit", visit, "--given", "Adjoa", "--family", "Quaye",
        "--sex", "female", "--birth-year", 1985, "--card", "NK4501", "--village", "Gumani",
        "--consent", "care_record", "--consent", "biometric_identification", password=pw[reg],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["person"]["id"]
    assert capture(data, reg, visit, pid, pw).exit_code == 0
    assert templates(data) == 1

    # a person id learned elsewhere, in an empty visit: refused
    empty = open_visit(data, reg, "north", pw)
    r = capture(data, reg, empty, pid, pw, "--replace")
    assert r.exit_code == 5, r.output
    # another site's registrar: no capture of a person their visit did not find (an identification in their own
    # visit is the program's search, allowed); on this site's visit, and the admin on any: nothing
    south = open_visit(data, "registrar-south", "south", pw)
    assert capture(data, "registrar-south", south, pid, pw, "--replace").exit_code == 5
    for user, v in (("registrar-south", visit), ("admin", visit)):
        r = capture(data, user, v, pid, pw, "--replace")
        assert r.exit_code == 5, (user, r.output)
        r = identify(data, user, v, pw)
        assert r.exit_code == 5, (user, r.output)
        assert pid not in r.stdout
    assert templates(data) == 1


@pytest.mark.parametrize("purpose", ["law_enforcement", "kinship", "research", "bulk_export"])
def test_cli_identify_for_a_refused_purpose_is_exit_5_and_counted(data, purpose):  # noqa: F811
    assert ck("demo", "--data", data, "--people", 1).exit_code == 0
    pw = passwords(data)
    visit = open_visit(data, "registrar-north", "north", pw)
    r = identify(data, "registrar-north", visit, pw, "--purpose", purpose)
    assert r.exit_code == 5, r.output
    r = ck("transparency", "refusals", "--data", data)
    assert r.exit_code == 0 and "1" in r.output
