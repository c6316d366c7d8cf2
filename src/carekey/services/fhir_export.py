"""The person's own export as a FHIR R4 Bundle (type collection): everything carekey holds about them that FHIR
can say — Patient, the sites and visits of their exams, one Observation per value, their consent state, one
AuditEvent per access-log entry (with its leaf index and the signed tree head it is proven against).

Same gate as the JSON export (``PatientService.export``, which stays): purpose patient_access, action
patient_export, the person only, logged before the data leaves."""

from __future__ import annotations

from typing import Any

from carekey.domain.purposes import Purpose
from carekey.fhir import bundles
from carekey.fhir.resources import LogRef
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Deps
from carekey.services.patients import Patient
from carekey.services.records import data_key, load_row, open_consent, open_exam, open_person
from carekey.services.transparency import publish_head


class FhirExportService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def export(self, patient: Patient) -> dict[str, Any]:
        with self.d.uow() as uow:
            authorize(
                uow,
                self.d.clock(),
                patient.actor,
                Action.PATIENT_EXPORT,
                Purpose.PATIENT_ACCESS.value,
                person_id=patient.person_id,
            )
            row = load_row(uow, patient.person_id)
            key = data_key(self.d.crypto, row)
            person = open_person(self.d.crypto, row, key)
            exams = [open_exam(self.d.crypto, key, e) for e in uow.exams.for_person(row.id)]
            consents = [open_consent(self.d.crypto, key, c) for c in uow.consents.history(row.id)]
            visits = [v for vid in dict.fromkeys(e.visit_id for e in exams) if (v := uow.visits.get(vid))]
            site_ids = dict.fromkeys([row.enrolled_site, *(v.site_id for v in visits)])
            sites = [s for sid in site_ids if (s := uow.programs.get_site(sid))]
            sth = publish_head(uow, self.d)  # covers this very export's log entry
            ref = sth.to_dict()
            accesses = [
                (
                    e.event,
                    LogRef(e.event.seq, sth.size, str(ref["root_hash"]), str(ref["key_id"]), sth.head.timestamp_ms),
                )
                for e in uow.access_log.for_person(row.id)
                if e.event.seq is not None and e.event.seq < sth.size
            ]
            uow.commit()
        bundle = bundles.export_bundle(person, row.program_id, sites, visits, exams, consents, accesses, self.d.clock())
        return bundles.to_dict(bundle)
