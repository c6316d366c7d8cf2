"""Plain-language words for the patient portal: what each purpose, action and outcome of the log means."""

from __future__ import annotations

PURPOSE = {
    "care_record": "Keep my health record",
    "biometric_identification": "Find my record with my fingerprint or eye",
    "biometric_image_retention": "Keep my fingerprint and eye pictures to renew my code",
    "aggregate_statistics": "Count me in anonymous statistics",
    "ehr_sharing": "Send my results to my clinic's health record",
    "patient_access": "You, using this portal",
    "audit": "An auditor checking the log",
}
WHY = {
    "care_record": "your health care",
    "biometric_identification": "finding your record by fingerprint or eye",
    "biometric_image_retention": "renewing your fingerprint/eye code from the pictures you asked us to keep",
    "aggregate_statistics": "anonymous statistics",
    "ehr_sharing": "sending your visit's results to your clinic's health record",
    "patient_access": "your own visit to this portal",
    "audit": "checking the log",
}
ACTION = {
    "lookup_result": "You were shown as a possible match in a search",
    "identify_biometric_result": "You were shown as a possible match in a fingerprint/iris search",
    "read_person": "Your record was opened",
    "enroll": "You were registered",
    "enroll_biometric": "A fingerprint or iris code was saved",
    "renew_biometric": "Your kept pictures were used to renew your fingerprint/eye code (new key)",
    "retention_delete": "Data past its keeping period or without your consent was deleted",
    "record_consent": "Your choices were recorded",
    "record_exam": "An exam was recorded",
    "read_exams": "Your exams were read",
    "erase": "Erasure of your data",
    "patient_read": "You looked at your data",
    "patient_revoke": "You withdrew a consent",
    "patient_export": "You downloaded your data",
    "patient_erase": "You asked for erasure",
    "ehr_push": "The results of a visit were sent to your clinic's health record",
}
OUTCOME = {"granted": "allowed", "denied": "refused", "refused": "refused (never allowed)"}
ROLE = {"registrar": "a registrar", "clinician": "a clinician", "patient": "you", "program_manager": "a manager",
        "auditor": "an auditor", "admin": "an administrator"}


def purpose(value: str) -> str:
    return PURPOSE.get(value, value.replace("_", " "))


def why(value: str) -> str:
    """What an access was for (a purpose of the log, in plain words; refused purposes keep their label)."""
    return WHY.get(value, value.replace("_", " "))


def action(value: str) -> str:
    return ACTION.get(value, value.replace("_", " "))


def outcome(value: str) -> str:
    return OUTCOME.get(value, value)


def role(value: str) -> str:
    return ROLE.get(value, value.replace("_", " "))
