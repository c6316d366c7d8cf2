"""Code systems and identifier systems: the standard ones carekey uses and the URIs it defines for its own ids.

carekey's own identifier systems are URNs (``urn:carekey:...``): they name carekey's namespaces without
pretending to be resolvable web addresses. A card number is unique within a program only, so its system
names the program.
"""

from __future__ import annotations

import uuid

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

PERSON_ID = "urn:carekey:id:person"  # the pseudonymous program id, e.g. CK-7F3K-92QD
VISIT_ID = "urn:carekey:id:visit"
SITE_ID = "urn:carekey:id:site"
OBSERVATION_ID = "urn:carekey:id:observation"  # "<exam id>:<LOINC code>"
CONSENT_ID = "urn:carekey:id:consent"  # the person's consent state: one per person
ACCESS_LOG = "urn:carekey:transparency-log"  # value: the leaf index of an access-log entry
USER_ID = "urn:carekey:id:user"
PURPOSE = "urn:carekey:purpose"  # care_record, biometric_identification, ... ehr_sharing
ACTION = "urn:carekey:action"  # the access-log actions (read_person, record_exam, ehr_push, ...)
ROLE = "urn:carekey:role"


def card_system(program_id: str) -> str:
    return f"urn:carekey:id:card:{program_id}"


def notice_uri(version: str, language: str) -> str:
    """The consent notice shown (its text ships with carekey: ``interfaces/web/notices/<version>.<lang>.json``)."""
    return f"urn:carekey:notice:{version}:{language}"


# R4 vital-signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html)
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
PROFILES = {
    "bp": "http://hl7.org/fhir/StructureDefinition/bp",
    "pulse": "http://hl7.org/fhir/StructureDefinition/heartrate",
    "height_cm": "http://hl7.org/fhir/StructureDefinition/bodyheight",
    "weight_kg": "http://hl7.org/fhir/StructureDefinition/bodyweight",
    "bmi": "http://hl7.org/fhir/StructureDefinition/bmi",
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")

# SNOMED CT "Blood group <ABO> Rh(D) <pos/neg>" concepts, the answers used with LOINC 882-1
BLOOD_GROUP_SNOMED = {
    "A+": "278149003",
    "A-": "278152006",
    "B+": "278150003",
    "B-": "278153001",
    "AB+": "278151004",
    "AB-": "278154007",
    "O+": "278147001",
    "O-": "278148006",
}

_NAMESPACE = uuid.UUID("5b0c8f63-3c1e-5a55-9a51-6361726b6579")  # fixed: the same resource gets the same fullUrl


def full_url(resource_type: str, system: str, value: str) -> str:
    """A stable ``urn:uuid:`` for a resource inside a Bundle, derived from its business identifier (UUIDv5)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource_type}|{system}|{value}')}"
