"""FHIR through the CLI: the person's export in FHIR (the JSON one stays the default), the admin's queue and send."""

import json

from carekey.fhir import bundles, reading
from tests.e2e.test_cli import ck, data  # noqa: F401 - fixture reused
from tests.e2e.test_cli_rights import creds, demo  # noqa: F401 - fixture reused


def test_patient_export_in_fhir_and_json(demo):  # noqa: F811
    _, card, pin = creds(demo)
    r = ck("patient", "export", "--data", demo, "--card", card, "--format", "fhir", env={"CAREKEY_PIN": pin})
    assert r.exit_code == 0, r.output
    bundle = bundles.parse(json.loads(r.output))
    types = reading.resource_types(bundle)
    assert bundle.type == "collection" and types[0] == "Patient" and "AuditEvent" in types
    assert reading.measurements(bundle)  # the demo person has exams
    plain = ck("patient", "export", "--data", demo, "--card", card, env={"CAREKEY_PIN": pin})
    assert json.loads(plain.output)["format"] == "carekey-export-v1"
    bad = ck("patient", "export", "--data", demo, "--card", card, "--format", "xml", env={"CAREKEY_PIN": pin})
    assert bad.exit_code == 3


def test_fhir_queue_and_send_are_for_the_admin(demo):  # noqa: F811
    pw, _, _ = creds(demo)
    r = ck("fhir", "queue", "--data", demo, "-u", "admin", password=pw["admin"])
    assert r.exit_code == 0 and "(no push queued)" in r.output, r.output
    r = ck("fhir", "send", "--data", demo, "-u", "admin", password=pw["admin"])
    assert r.exit_code == 0 and json.loads(r.output) == {"attempted": 0, "by_status": {}}
    assert ck("fhir", "queue", "--data", demo, "-u", "registrar-north", password=pw["registrar-north"]).exit_code == 5
