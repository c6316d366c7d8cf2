"""FHIR over the API: the CapabilityStatement, no other /fhir route, the person's FHIR export, the admin's counts;
and a visit closed through the API arriving at a (real, local) FHIR endpoint."""

import json

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from carekey.fhir import bundles, reading
from tests.e2e.test_rights_api import enroll, patient_headers
from tests.fhir_endpoint import running_endpoint

EHR = ["care_record", "aggregate_statistics", "ehr_sharing"]


def test_metadata_is_a_capability_statement_that_promises_no_reads(client):
    r = client.get("/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    cs = CapabilityStatement.model_validate(r.json())
    assert cs.fhirVersion == "4.0.1" and cs.kind == "capability"
    modes = {rest.mode: rest for rest in cs.rest}
    assert modes["server"].resource is None  # serves no resource at all
    assert {res.type for res in modes["client"].resource} == {
        "Patient",
        "Location",
        "Encounter",
        "Observation",
        "Consent",
    }
    assert "no FHIR read, search" in cs.description


@pytest.mark.parametrize(
    "path",
    [
        "/fhir",
        "/fhir/",
        "/fhir/Patient",
        "/fhir/Patient/CK-AAAA-BBBB",
        "/fhir/Observation?subject=Patient/CK-AAAA-BBBB",
        "/fhir/Patient/$everything",
        "/fhir/$export",
        "/fhir/Bundle",
        "/fhir/metadata/x",
        "/fhir/AuditEvent",
    ],
)
def test_no_other_fhir_read_exists(client, login, path):
    for headers in ({}, login("admin"), login("clinician")):
        assert client.get(path, headers=headers).status_code in (404, 405), path


def test_no_fhir_writes_either(client):
    for path in ("/fhir", "/fhir/Patient", "/fhir/metadata"):
        assert client.post(path, json={"resourceType": "Bundle", "type": "transaction"}).status_code in (404, 405)


def test_patient_downloads_their_fhir_export_and_the_json_one_stays(app, world, client):
    _, pid = enroll(app, world, "PF001", exam={"systolic_bp": 128, "diastolic_bp": 84, "pulse": 70})
    me = patient_headers(client, "PF001")
    r = client.get("/patient/export/fhir", headers=me)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    bundle = bundles.parse(r.json())
    assert bundle.type == "collection"
    types = reading.resource_types(bundle)
    assert types[0] == "Patient" and "Consent" in types and "AuditEvent" in types
    assert {(m["loinc"], m["value"]) for m in reading.measurements(bundle)} == {
        ("8480-6", 128.0),
        ("8462-4", 84.0),
        ("8867-4", 70.0),
    }
    assert client.get("/patient/export", headers=me).json()["format"] == "carekey-export-v1"
    assert client.get("/patient/export/fhir", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert pid in json.dumps(r.json())


def test_visit_closed_through_the_api_is_pushed_and_counted(app, world, client, login, monkeypatch):
    with running_endpoint() as endpoint:
        monkeypatch.setenv("CAREKEY_FHIR_ENDPOINT_NORTH", endpoint.base)
        visit, _ = enroll(app, world, "PF002", granted=EHR, exam={"pulse": 66})
        assert client.post(f"/visits/{visit}/close", headers=login("clinician")).status_code == 200
        assert len(endpoint.received) == 1 and bundles.parse(endpoint.received[0]).type == "transaction"
    counts = client.get("/admin/fhir/queue", headers=login("admin"))
    assert counts.status_code == 200 and counts.json() == {
        "counts": {"north": {"pending": 0, "sent": 1, "failed": 0, "cancelled": 0}}
    }
    assert client.get("/admin/fhir/queue", headers=login("registrar")).status_code == 403
