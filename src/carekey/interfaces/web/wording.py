"""Plain-language words for the patient portal: what each purpose, action and outcome of the log means."""

from __future__ import annotations

from carekey.interfaces.web.i18n import N_, gettext

PURPOSE = {
    "care_record": N_("Keep my health record"),
    "biometric_identification": N_("Find my record with my fingerprint or eye"),
    "biometric_image_retention": N_("Keep my fingerprint and eye pictures to renew my code"),
    "aggregate_statistics": N_("Count me in anonymous statistics"),
    "ehr_sharing": N_("Send my results to my clinic's health record"),
    "patient_access": N_("You, using this portal"),
    "audit": N_("An auditor checking the log"),
}
WHY = {
    "care_record": N_("your health care"),
    "biometric_identification": N_("finding your record by fingerprint or eye"),
    "biometric_image_retention": N_("renewing your fingerprint/eye code from the pictures you asked us to keep"),
    "aggregate_statistics": N_("anonymous statistics"),
    "ehr_sharing": N_("sending your visit's results to your clinic's health record"),
    "patient_access": N_("your own visit to this portal"),
    "audit": N_("checking the log"),
}
ACTION = {
    "lookup_result": N_("You were shown as a possible match in a search"),
    "identify_biometric_result": N_("You were shown as a possible match in a fingerprint/iris search"),
    "read_person": N_("Your record was opened"),
    "enroll": N_("You were registered"),
    "enroll_biometric": N_("A fingerprint or iris code was saved"),
    "renew_biometric": N_("Your kept pictures were used to renew your fingerprint/eye code (new key)"),
    "retention_delete": N_("Data past its keeping period or without your consent was deleted"),
    "record_consent": N_("Your choices were recorded"),
    "record_exam": N_("An exam was recorded"),
    "read_exams": N_("Your exams were read"),
    "erase": N_("Erasure of your data"),
    "patient_read": N_("You looked at your data"),
    "patient_revoke": N_("You withdrew a consent"),
    "patient_grant": N_("You said yes again to a consent"),
    "patient_export": N_("You downloaded your data"),
    "patient_erase": N_("You asked for erasure"),
    "ehr_push": N_("The results of a visit were sent to your clinic's health record"),
    "record_referral": N_("A clinician referred you (where, why and how urgently)"),
    "read_referrals": N_("Your referrals were read"),
    "close_referral": N_("A referral of yours was closed"),
    "followup_list": N_("A follow-up list of your site was shown (codes only)"),
    "followup_list_result": N_("Your code was shown in your site's follow-up list (no name)"),
}
#: the admin actions counted on the public page (purpose administration), in plain words
ADMIN_ACTION = {
    "admin_create_program": N_("program created"),
    "admin_add_site": N_("site added"),
    "admin_add_user": N_("staff account created"),
    "admin_approve_user": N_("staff account approved"),
    "admin_change_user": N_("staff account's role or sites changed"),
    "admin_reset_password": N_("staff password reset"),
    "admin_deactivate": N_("staff account deactivated"),
    "admin_reactivate": N_("staff account reactivated"),
    "admin_rotate_key": N_("biometric key rotated"),
    "log_key_rotate": N_("log signing key rotated"),
    "admin_list_users": N_("staff list viewed"),
    "list_pending_accounts": N_("accounts awaiting approval viewed"),
    "change_own_password": N_("own password changed"),
    "administer": N_("FHIR queue viewed or sent"),
    "retention_delete": N_("deleted at the end of the keeping period"),
}
OUTCOME = {"granted": N_("allowed"), "denied": N_("refused"), "refused": N_("refused (never allowed)")}
ROLE = {
    "registrar": N_("a registrar"),
    "clinician": N_("a clinician"),
    "patient": N_("you"),
    "program_manager": N_("a manager"),
    "auditor": N_("an auditor"),
    "admin": N_("an administrator"),
}


def purpose(value: str) -> str:
    return gettext(PURPOSE[value]) if value in PURPOSE else value.replace("_", " ")


def why(value: str) -> str:
    """What an access was for (a purpose of the log, in plain words; refused purposes keep their label)."""
    return gettext(WHY[value]) if value in WHY else value.replace("_", " ")


def action(value: str) -> str:
    return gettext(ACTION[value]) if value in ACTION else value.replace("_", " ")


def admin_action(value: str) -> str:
    return gettext(ADMIN_ACTION[value]) if value in ADMIN_ACTION else value.removeprefix("admin_").replace("_", " ")


def outcome(value: str) -> str:
    return gettext(OUTCOME[value]) if value in OUTCOME else value


def role(value: str) -> str:
    return gettext(ROLE[value]) if value in ROLE else value.replace("_", " ")
