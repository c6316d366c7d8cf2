"""``carekey person capture|identify|same-as`` with the real (protected) matcher on fixture fingerprints: the
possible-duplicate flow, the demographic duplicate, and bad input -> exit code and message, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from tests.e2e.test_cli import ck, data  # noqa: F401  (the fixture)

FP = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def templates(data_dir):
    engine = sa.create_engine(f"sqlite:///{data_dir / 'carekey.db'}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM biometric_templates")).scalar_one()
    finally:
        engine.dispose()


def test_capture_duplicate_same_as_identify(data):  # noqa: F811
    assert ck("demo", "--data", data, "--people", 1).exit_code == 0
    pw = {u: p for u, _, p in (line.split("\t") for line in (data / "demo-users.txt").read_text().splitlines())}
    reg = ["--data", data, "--user", "registrar-north"]
    secret = pw["registrar-north"]

    def enroll(given, card, *extra):
        visit = json.loads(ck("visit", "open", *reg, "--site", "north", password=secret).output)["id"]
        r = ck(
            "person",
            "enroll",
            *reg,
            "--visit",
            visit,
            "--given",
            given,
            "--family",
            "Darko",
            "--sex",
            "female",
            "--birth-year",
            1988,
            "--card",
            card,
            "--village",
            "Gumani",
            "--consent",
            "care_record",
            "--consent",
            "biometric_identification",
            *extra,
            password=secret,
        )
        return visit, r

    v1, r = enroll("Afua", "NK4101")
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)["person"]["id"]
    r = ck(
        "person",
        "capture",
        *reg,
        "--visit",
        v1,
        first,
        "--modality",
        "fingerprint",
        "--position",
        "right_index",
        "--image",
        FP / "db1_101_1.tif",
        password=secret,
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["enrolled"]["fingerprint"] == ["right_index"]

    v2, r = enroll("Afia", "NK4102")  # the same person again, another spelling
    second = json.loads(r.stdout)["person"]["id"]
    r = ck(
        "person",
        "capture",
        *reg,
        "--visit",
        v2,
        second,
        "--modality",
        "fingerprint",
        "--position",
        "right_index",
        "--image",
        FP / "db1_101_2.tif",
        password=secret,
    )
    assert r.exit_code == 7, r.output
    shown = json.loads(r.stdout)["possible_duplicate"]
    assert [c["person_id"] for c in shown] == [first] and 0 < shown[0]["score"] <= 100
    assert "Possible duplicate" in r.stderr
    r = ck("person", "same-as", *reg, "--visit", v2, second, "--existing", first, password=secret)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["person"]["id"] == first
    assert templates(data) == 1

    v3 = json.loads(ck("visit", "open", *reg, "--site", "north", password=secret).output)["id"]
    r = ck(
        "person",
        "identify",
        *reg,
        "--visit",
        v3,
        "--modality",
        "fingerprint",
        "--image",
        f"right_index={FP / 'db1_101_3.tif'}",
        password=secret,
    )
    assert r.exit_code == 5 and "agreement" in r.output  # without --person-agreed: denied and logged
    r = ck(
        "person",
        "identify",
        *reg,
        "--visit",
        v3,
        "--modality",
        "fingerprint",
        "--person-agreed",
        "--image",
        f"right_index={FP / 'db1_101_3.tif'}",
        password=secret,
    )
    assert r.exit_code == 0, r.output
    found = json.loads(r.stdout)
    assert [c["person_id"] for c in found] == [first] and found[0]["score"] > 30  # calibrated, not "1/100"

    # bad input: exit 3 with the reason, nothing stored
    r = ck(
        "person",
        "capture",
        *reg,
        "--visit",
        v1,
        first,
        "--modality",
        "voice",
        "--position",
        "right_index",
        "--image",
        FP / "db1_101_1.tif",
        password=secret,
    )
    assert r.exit_code == 3 and "modality" in r.output
    corrupt = data / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00 this is not a fingerprint")
    r = ck(
        "person",
        "capture",
        *reg,
        "--visit",
        v1,
        first,
        "--modality",
        "fingerprint",
        "--position",
        "left_index",
        "--image",
        corrupt,
        password=secret,
    )
    assert r.exit_code == 3 and "error:" in r.output
    assert templates(data) == 1

    # the demographic duplicate: the same name, birth year and village
    _, r = enroll("Afua", "NK4103")
    assert r.exit_code == 7 and json.loads(r.stdout)["possible_duplicate"][0]["person_id"] == first
    _, r = enroll("Afua", "NK4103", "--confirm-new-person")
    assert r.exit_code == 0, r.output
