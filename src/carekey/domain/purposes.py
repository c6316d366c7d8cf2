"""The closed set of purposes for which personal data may be processed.

Anything else is refused before the policy engine runs. Some purposes are named explicitly in
``REFUSED`` so that the public refusal counts can show them by name; any unknown string is refused
and counted as ``other``.
"""

from __future__ import annotations

from enum import StrEnum

from carekey.errors import RefusedPurpose


class Purpose(StrEnum):
    CARE_RECORD = "care_record"  # read/write the person's record and exams during a visit
    BIOMETRIC_IDENTIFICATION = "biometric_identification"  # capture, enroll and search biometrics
    # keep the enrollment images (encrypted under the person's key) to renew templates without a new capture;
    # opt-in, separate, and only together with biometric_identification
    BIOMETRIC_IMAGE_RETENTION = "biometric_image_retention"
    AGGREGATE_STATISTICS = "aggregate_statistics"  # differentially private releases only
    # each closed visit pushed (FHIR transaction Bundle) to the EMR of the screening site's clinic; per person
    EHR_SHARING = "ehr_sharing"
    PATIENT_ACCESS = "patient_access"  # the person reading/exporting/revoking their own data
    AUDIT = "audit"  # verifying the transparency log; never reads records
    ADMINISTRATION = "administration"  # users, sites and keys; never reads records


#: The purposes a person grants or refuses in the consent form (a purpose comes after those it depends on).
CONSENT_PURPOSES = (Purpose.CARE_RECORD, Purpose.BIOMETRIC_IDENTIFICATION, Purpose.BIOMETRIC_IMAGE_RETENTION,
                    Purpose.AGGREGATE_STATISTICS, Purpose.EHR_SHARING)

#: A consent purpose that is meaningful only while another is granted: granting it alone is refused, and
#: revoking the other revokes it too.
DEPENDS_ON = {Purpose.BIOMETRIC_IMAGE_RETENTION: Purpose.BIOMETRIC_IDENTIFICATION}

#: Purposes carekey never serves, counted publicly by name when someone asks for them.
REFUSED = frozenset(
    {
        "law_enforcement",
        "security",
        "watchlist",
        "persons_of_interest",
        "kinship",
        "family_linkage",
        "dna_identification",
        "bulk_export",
        "immigration",
    }
)


def refusal_label(raw: str) -> str:
    """The public counting label of a refused purpose: its name if known, else ``other``."""
    norm = raw.strip().lower().replace("-", "_").replace(" ", "_")
    return norm if norm in REFUSED else "other"


def parse_purpose(raw: str) -> Purpose:
    """Return the Purpose or raise RefusedPurpose with an explanation (HTTP 403)."""
    norm = raw.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Purpose(norm)
    except ValueError:
        pass
    if norm in REFUSED:
        raise RefusedPurpose(
            f"carekey never processes data for {norm!r}: data collected for care is used only for the "
            "person's own care, their own access, and privacy-protected aggregate statistics.",
            purpose=refusal_label(raw),
        )
    raise RefusedPurpose(
        f"{raw!r} is not a purpose carekey serves; allowed purposes: {', '.join(p.value for p in Purpose)}.",
        purpose="other",
    )
