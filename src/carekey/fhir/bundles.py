"""Bundles: a visit's transaction (pushed to the clinic's EMR) and a person's export (their own copy).

In the transaction every entry is a conditional update on its business identifier
(``PUT Patient?identifier=urn:carekey:id:person|CK-...``, FHIR R4 3.1.0.4.3 / 3.1.0.11.2), so sending the same
visit twice (a retry after a lost answer) updates instead of duplicating, and references between entries are
``urn:uuid:`` fullUrls that the server rewrites to the ids it assigns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.resource import Resource

from carekey.domain.access import AccessEvent
from carekey.domain.consent import ConsentRecord
from carekey.domain.exam import Exam
from carekey.domain.person import Person
from carekey.domain.program import Site
from carekey.domain.visit import Visit
from carekey.fhir import resources as R
from carekey.fhir import systems as S

#: The only resource types a carekey Bundle may carry: nothing biometric (no Media, Binary, DocumentReference,
#: ImagingStudy, BodyStructure) can slip in.
ALLOWED_TYPES = frozenset({"Patient", "Location", "Encounter", "Observation", "Consent", "AuditEvent"})
VISIT_BUNDLE_TYPE, EXPORT_BUNDLE_TYPE = "transaction", "collection"


def _first_identifier(resource: Resource) -> tuple[str, str]:
    """(system, value) of the resource's first business identifier (every bundled type but AuditEvent has one)."""
    ids = getattr(resource, "identifier", None)
    first = ids[0] if isinstance(ids, list) else ids
    if not isinstance(first, Identifier) or first.system is None or first.value is None:
        raise ValueError(f"a {resource.get_resource_type()} without a business identifier cannot be bundled")
    return first.system, first.value


def _log_index(event: AuditEvent) -> str:
    """The transparency-log index an AuditEvent names (its last entity, ``resources.audit_event``)."""
    what = event.entity[-1].what if event.entity else None
    if what is None or what.identifier is None or what.identifier.value is None:
        raise ValueError("an AuditEvent without its log index cannot be bundled")
    return what.identifier.value


def _check(resource: Resource) -> str:
    rtype = resource.get_resource_type()
    if rtype not in ALLOWED_TYPES:
        raise ValueError(f"a carekey Bundle never carries {rtype}")
    return rtype


def _entry(resource: Resource, transaction: bool) -> BundleEntry:
    rtype = _check(resource)
    if isinstance(resource, AuditEvent):  # has no business identifier of its own: named by its log index
        url, request = S.full_url(rtype, S.ACCESS_LOG, _log_index(resource)), None
    else:
        system, value = _first_identifier(resource)
        url = S.full_url(rtype, system, value)
        request = BundleEntryRequest(method="PUT", url=f"{rtype}?identifier={system}|{value}") if transaction else None
    return BundleEntry(fullUrl=url, resource=resource, request=request)


def _bundle(kind: str, resources: Iterable[Resource], at: datetime) -> Bundle:
    return Bundle(type=kind, timestamp=at, entry=[_entry(r, kind == VISIT_BUNDLE_TYPE) for r in resources])


def visit_bundle(
    person: Person,
    program_id: str,
    site: Site,
    visit: Visit,
    exams: Sequence[Exam],
    consents: Sequence[ConsentRecord],
    at: datetime,
) -> Bundle:
    """What one visit adds to the person's record at the clinic: the Patient, the site, the Encounter, the
    Observations of the exams recorded in this visit, and the consent state (which says they agreed)."""
    items: list[Resource] = [R.patient(person, program_id), R.location(site), R.encounter(visit, person.id)]
    for exam in exams:
        if exam.visit_id == visit.id:
            items += R.observations(exam)
    state = R.consent(person.id, consents)
    if state is not None:
        items.append(state)
    return _bundle(VISIT_BUNDLE_TYPE, items, at)


def export_bundle(
    person: Person,
    program_id: str,
    sites: Sequence[Site],
    visits: Sequence[Visit],
    exams: Sequence[Exam],
    consents: Sequence[ConsentRecord],
    accesses: Sequence[tuple[AccessEvent, R.LogRef]],
    at: datetime,
) -> Bundle:
    """Everything carekey holds about the person that FHIR can say (their JSON export stays the complete copy:
    it also lists the protected biometric templates by position, never their bytes)."""
    items: list[Resource] = [R.patient(person, program_id, with_address=True)]
    items += [R.location(s) for s in sites]
    items += [R.encounter(v, person.id) for v in visits]
    for exam in exams:
        items += R.observations(exam)
    state = R.consent(person.id, consents)
    if state is not None:
        items.append(state)
    items += [R.audit_event(event, log) for event, log in accesses]
    return _bundle(EXPORT_BUNDLE_TYPE, items, at)


def to_dict(resource: Resource) -> dict[str, Any]:
    """A resource as FHIR JSON (element names as the specification spells them, empty elements left out)."""
    return json.loads(resource.model_dump_json(by_alias=True, exclude_none=True))


def parse(data: dict[str, Any] | str | bytes) -> Bundle:
    """Validate FHIR JSON as an R4 Bundle (pydantic ValidationError when it is not one)."""
    if isinstance(data, dict):
        return Bundle.model_validate(data)
    return Bundle.model_validate_json(data)
