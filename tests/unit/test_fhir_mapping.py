"""The FHIR mapping on a fixture person, without I/O: every resource validates with the library's R4 models, one
visit's Bundle equals the hand-checked expected JSON, export -> parse gives back the same values and units,
nothing biometric gets in, and the CapabilityStatement says what carekey never does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B.media import Media

from carekey.domain.access import AccessEvent
from carekey.domain.consent import ConsentRecord, Grantor, GrantorKind
from carekey.domain.exam import Exam
from carekey.domain.person import Person
from carekey.domain.program import Site
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.fhir import bundles, capability, reading
from carekey.fhir import resources as R

EXPECTED = Path(__file__).parents[1] / "fixtures" / "fhir" / "visit_bundle.json"
T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
SITE = Site("north", "demo", "North clinic", "Northern")
# Efua, 15: she grants with her mother's co-signature; statistics refused
PERSON = Person.create(
    id="CK-7F3K-92QD",
    given_name="Efua",
    family_name="Mensah",
    sex="female",
    birth_year=2010,
    card_number="NK1001",
    today=T0.date(),
    district="Northern",
    village="Tamale",
)
VISIT = Visit("V-0001", "north", "U-reg", T0, PERSON.id, "U-cli", T0.replace(hour=10))
EXAM = Exam.create(
    id="EX-0001",
    person_id=PERSON.id,
    visit_id=VISIT.id,
    site_id="north",
    recorded_by="U-cli",
    recorded_at=T0.replace(minute=30),
    systolic_bp=118,
    diastolic_bp=76,
    pulse=72,
    height_cm=158,
    weight_kg=52,
    glucose_mmol_l=5.2,
    hemoglobin_g_dl=12.1,
    blood_type="O+",
    notes="well",
)
MOTHER = Grantor(GrantorKind.SELF, "Akosua Mensah", "mother")
CONSENTS = [
    ConsentRecord(f"C-{i}", PERSON.id, p, granted, "v1", "en", MOTHER if granted else Grantor(), T0, "north", "U-reg")
    for i, (p, granted) in enumerate(
        [
            (Purpose.CARE_RECORD, True),
            (Purpose.BIOMETRIC_IDENTIFICATION, True),
            (Purpose.AGGREGATE_STATISTICS, False),
            (Purpose.EHR_SHARING, True),
        ]
    )
]
READ = AccessEvent(
    T0.replace(minute=5),
    "U-cli",
    "clinician",
    "north",
    "care_record",
    "read_exams",
    "granted",
    "clinician may read_exams for care_record",
    PERSON.id,
    seq=7,
)
LOG = R.LogRef(7, 12, "q83vEjRWeJA/q83vEjRWeJA/q83vEjRWeJA/q83vEjRWeJA=", "ab" * 32, 1772614800000)


def visit_bundle():
    return bundles.visit_bundle(PERSON, "demo", SITE, VISIT, [EXAM], CONSENTS, T0.replace(hour=10))


def export_bundle():
    return bundles.export_bundle(PERSON, "demo", [SITE], [VISIT], [EXAM], CONSENTS, [(READ, LOG)], T0.replace(hour=11))


def test_visit_bundle_equals_the_expected_json():
    assert bundles.to_dict(visit_bundle()) == json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("build", [visit_bundle, export_bundle])
def test_every_resource_validates_with_the_library_models(build):
    data = bundles.to_dict(build())
    parsed = bundles.parse(json.dumps(data))  # the whole Bundle, entries as their own resource classes
    assert bundles.to_dict(parsed) == data
    for entry in data["entry"]:
        cls = type(next(e.resource for e in parsed.entry if e.fullUrl == entry["fullUrl"]))
        assert cls.__module__.startswith("fhir.resources.R4B.")
        assert bundles.to_dict(cls.model_validate(entry["resource"])) == entry["resource"]


def test_required_elements_are_enforced_by_the_models():
    with pytest.raises(ValueError):
        bundles.parse(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"resource": {"resourceType": "Observation", "status": "final"}}],
            }
        )  # no code


def test_round_trip_export_parse_gives_the_same_values_and_units():
    text = json.dumps(bundles.to_dict(export_bundle()))
    rows = reading.measurements(bundles.parse(text))
    expected = [(o["loinc"], o["value"], o["unit"]) for o in EXAM.observations()]
    assert sorted((r["loinc"], r["value"], r["unit"]) for r in rows) == sorted(expected)
    assert {r["at"] for r in rows} == {EXAM.recorded_at}


def test_export_carries_the_access_log_entry_with_its_index_and_tree_head():
    data = bundles.to_dict(export_bundle())
    [audit] = [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "AuditEvent"]
    log = audit["entity"][-1]
    assert log["what"]["identifier"] == {"system": "urn:carekey:transparency-log", "value": "7"}
    details = {d["type"]: d.get("valueString", d.get("valueBase64Binary")) for d in log["detail"]}
    assert details == {
        "leaf_index": "7",
        "tree_size": "12",
        "root_hash": LOG.root_hash_b64,
        "key_id": "ab" * 32,
        "tree_head_timestamp_ms": "1772614800000",
    }
    assert audit["purposeOfEvent"][0]["coding"][0]["code"] == "care_record" and audit["outcome"] == "0"
    patient = data["entry"][0]["resource"]
    assert patient["address"] == [{"district": "Northern", "city": "Tamale"}]  # the person's own copy only
    assert "address" not in bundles.to_dict(visit_bundle())["entry"][0]["resource"]


def test_consent_has_one_provision_per_purpose_with_notice_and_guardian():
    consent = R.consent(PERSON.id, CONSENTS)
    provisions = {p.purpose[0].code: p.type for p in consent.provision.provision}
    assert provisions == {
        "care_record": "permit",
        "biometric_identification": "permit",
        "aggregate_statistics": "deny",
        "ehr_sharing": "permit",
    }
    assert [p.uri for p in consent.policy] == ["urn:carekey:notice:v1:en"]
    assert [p.display for p in consent.performer[1:]] == ["Akosua Mensah (mother), guardian"]
    revoked = ConsentRecord(
        "C-9", PERSON.id, Purpose.EHR_SHARING, False, "v1", "en", Grantor(), T0.replace(day=5), None, None
    )
    later = {p.purpose[0].code: p.type for p in R.consent(PERSON.id, [*CONSENTS, revoked]).provision.provision}
    assert later["ehr_sharing"] == "deny"


FORBIDDEN_WORDS = ("template", "fingerprint", "iris", "minuti", "image", "biometric_code", "photo")


@pytest.mark.parametrize("build", [visit_bundle, export_bundle])
def test_nothing_biometric_in_any_bundle(build):
    data = bundles.to_dict(build())
    assert {e["resource"]["resourceType"] for e in data["entry"]} <= bundles.ALLOWED_TYPES
    for entry in data["entry"]:
        resource = dict(entry["resource"])
        if resource["resourceType"] == "Consent":  # purpose codes name the biometric consents, not biometric data
            resource.pop("provision")
        text = json.dumps(resource).lower()
        assert not any(word in text for word in FORBIDDEN_WORDS), resource["resourceType"]
    assert not any(field in json.dumps(data) for field in ('"photo"', '"Media"', '"Binary"'))


def test_a_bundle_refuses_anything_outside_the_allowed_types():
    media = Media(status="completed", content={"contentType": "image/png", "data": "aGVsbG8="})
    with pytest.raises(ValueError, match="never carries Media"):
        bundles._bundle("collection", [media], T0)


def test_capability_statement_promises_push_only():
    cs = capability.capability_statement("0.1.0", T0)
    assert cs["fhirVersion"] == "4.0.1" and cs["resourceType"] == "CapabilityStatement"
    server = next(r for r in cs["rest"] if r["mode"] == "server")
    assert "resource" not in server and "no FHIR read, search" in server["documentation"]
    client = next(r for r in cs["rest"] if r["mode"] == "client")
    assert client["interaction"] == [{"code": "transaction"}]
    assert all(r["interaction"] == [{"code": "update"}] for r in client["resource"])
