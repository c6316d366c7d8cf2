"""FHIR: the CapabilityStatement, the person's own FHIR export, and the push queue's counts for the admin.

There is deliberately no other ``/fhir/...`` route: no read, search or history of anyone's data over FHIR
(records leave only as consented pushes, per person and per visit, and as the person's own export)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from carekey import __version__
from carekey.fhir.capability import capability_statement
from carekey.interfaces.api.deps import CurrentActor, CurrentPatient, Svc
from carekey.interfaces.api.problems import responses

router = APIRouter(tags=["fhir"])
FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    """FHIR JSON, declared as such in the OpenAPI document (``application/fhir+json``, FHIR R4 section 2.6.2)."""

    media_type = FHIR_JSON


@router.get(
    "/fhir/metadata",
    summary="FHIR CapabilityStatement",
    description="What carekey sends over FHIR R4 (a transaction Bundle per closed visit, to the site's EMR, "
    "with the person's ehr_sharing consent) and what it never does (no FHIR reads or searches).",
    response_class=FhirJSONResponse,
)
def metadata(svc: Svc) -> FhirJSONResponse:
    return FhirJSONResponse(capability_statement(__version__, svc.deps.clock()))


@router.get(
    "/patient/export/fhir",
    tags=["patient"],
    summary="Export my data as a FHIR R4 Bundle",
    description="A Bundle (type collection): Patient, visits, observations with LOINC codes and UCUM units, "
    "consent state, and one AuditEvent per access to your data. The JSON export stays at /patient/export.",
    responses=responses(401, 403, 404),
    response_class=FhirJSONResponse,
)
def export_fhir(patient: CurrentPatient, svc: Svc) -> FhirJSONResponse:
    assert svc.fhir_export is not None
    return FhirJSONResponse(svc.fhir_export.export(patient))


@router.get(
    "/admin/fhir/queue",
    tags=["admin"],
    summary="FHIR push queue (counts)",
    description="Counts of queued pushes per site and status (pending, sent, failed, cancelled); no person.",
    responses=responses(401, 403),
)
def queue(actor: CurrentActor, svc: Svc) -> dict[str, Any]:
    assert svc.fhir is not None
    return {"counts": svc.fhir.queue(actor).counts}
