"""All use cases, built once from Deps (see ``carekey.bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass

from carekey.services.admin import AdminService
from carekey.services.audit import AuditService
from carekey.services.auth import AuthService
from carekey.services.biometrics import BiometricMatcher, BiometricService
from carekey.services.consents import ConsentService
from carekey.services.demographics import DemographicsService
from carekey.services.deps import Deps
from carekey.services.exams import ExamService
from carekey.services.fhir_export import FhirExportService
from carekey.services.fhir_push import FhirPushService
from carekey.services.lookup import LookupService
from carekey.services.patients import PatientService
from carekey.services.people import PeopleService
from carekey.services.referrals import ReferralService
from carekey.services.renewal import RenewalService
from carekey.services.retention import RetentionService
from carekey.services.statistics import StatisticsService
from carekey.services.sync_central import CentralSync
from carekey.services.tasks import TaskService
from carekey.services.transparency import TransparencyService
from carekey.services.visits import VisitService


@dataclass
class Services:
    deps: Deps
    auth: AuthService
    admin: AdminService
    visits: VisitService
    people: PeopleService
    consents: ConsentService
    exams: ExamService
    lookup: LookupService
    transparency: TransparencyService
    audit: AuditService
    patients: PatientService
    statistics: StatisticsService
    retention: RetentionService
    referrals: ReferralService
    sync: CentralSync  # site nodes: registration, push, pull (issue 19)
    tasks: TaskService  # tasks for a person's next visit on a node (offline captures, issue 19)
    demographics: DemographicsService  # demographic edits, merged per field at sync (issue 19)
    biometrics: BiometricService | None = None
    renewal: RenewalService | None = None  # templates from kept images after a key rotation (needs a matcher)
    fhir: FhirPushService | None = None  # the FHIR push queue (ehr_sharing)
    fhir_export: FhirExportService | None = None  # the person's export as a FHIR Bundle


def build_services(deps: Deps, matcher: BiometricMatcher | None = None) -> Services:
    auth = AuthService(deps)
    services = Services(
        deps=deps,
        auth=auth,
        admin=AdminService(deps, auth),
        visits=VisitService(deps),
        people=PeopleService(deps),
        consents=ConsentService(deps),
        exams=ExamService(deps),
        lookup=LookupService(deps),
        transparency=TransparencyService(deps),
        audit=AuditService(deps),
        patients=PatientService(deps),
        statistics=StatisticsService(deps),
        retention=RetentionService(deps),
        referrals=ReferralService(deps),
        sync=CentralSync(deps),
        tasks=TaskService(deps),
        demographics=DemographicsService(deps),
        biometrics=BiometricService(deps, matcher) if matcher else None,
        renewal=RenewalService(deps, matcher) if matcher else None,
        fhir=FhirPushService(deps),
        fhir_export=FhirExportService(deps),
    )
    services.sync.biometrics = services.biometrics  # the central enrollment of offline captures
    return services
