"""The CapabilityStatement served at ``GET /fhir/metadata``: what carekey sends and what it never does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from carekey.fhir.bundles import ALLOWED_TYPES, to_dict

FHIR_VERSION = "4.0.1"  # R4 (the R4B models used are the same for every resource carekey produces)
NEVER = (
    "carekey serves no FHIR read, search, history or bulk export ($export) of any person, and accepts no "
    "FHIR writes: this CapabilityStatement is the only FHIR resource it answers with. Records leave carekey "
    "only as (1) a push, per person and per visit, of a transaction Bundle to the FHIR endpoint configured for "
    "the screening site, when the person granted the consent purpose ehr_sharing (revocable at any time), each "
    "push decided by the access policy and written to the transparency log first; and (2) the person's own "
    "export (patient portal or `carekey patient export --format fhir`). No biometric data (templates, "
    "images) is ever put in a FHIR resource."
)


def capability_statement(version: str, at: datetime) -> dict[str, Any]:
    pushed = sorted(ALLOWED_TYPES - {"AuditEvent"})
    statement = CapabilityStatement(
        status="active",
        date=at,
        kind="capability",
        fhirVersion=FHIR_VERSION,
        format=["json"],
        name="CarekeyCapabilityStatement",
        title="carekey: push-only, per person, with consent",
        publisher="carekey",
        description=NEVER,
        software={"name": "carekey", "version": version},
        rest=[
            {
                "mode": "client",
                "documentation": "Pushes one transaction Bundle per closed visit (conditional updates on carekey "
                "identifiers) to the site's configured endpoint, with retries.",
                "resource": [
                    {"type": t, "interaction": [{"code": "update"}], "conditionalUpdate": True} for t in pushed
                ],
                "interaction": [{"code": "transaction"}],
            },
            {"mode": "server", "documentation": NEVER},
        ],
    )
    return to_dict(statement)
