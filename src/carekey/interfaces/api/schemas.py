"""Request and response bodies (pydantic), with OpenAPI examples."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carekey.domain.consent import ConsentRecord, Grantor, GrantorKind
from carekey.domain.exam import Exam
from carekey.domain.visit import Visit
from carekey.services.consents import ConsentInput
from carekey.services.lookup import Candidate
from carekey.services.people import PersonInput, PersonView
from carekey.services.presence import NO_PROOF, PresenceProof

#: A printed card number as the patient sign-in takes it: 4-20 letters or digits, spaces and dashes between them
#: ignored (``carekey.domain.person.normalize_card``), in the schema so that a sign-in the document calls valid is
#: never refused for its card number. Enrollment and lookup keep checking it in the domain, after the purpose: a
#: refused purpose (a `watchlist` lookup) is refused, logged and counted whatever card it names.
CARD_PATTERN = r"^[ -]*(?:[A-Za-z0-9][ -]*){4,20}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenIn(Strict):
    username: str = Field(max_length=64, examples=["registrar-north"])
    password: str = Field(max_length=1024, examples=["demo-password"])


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    username: str
    role: str
    site_ids: list[str]


class VisitIn(Strict):
    site_id: str = Field(examples=["north"])


class VisitOut(BaseModel):
    id: str = Field(examples=["V-5d1f..."])
    site_id: str
    person_id: str | None
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    is_open: bool

    @classmethod
    def of(cls, v: Visit) -> VisitOut:
        return cls(
            id=v.id,
            site_id=v.site_id,
            person_id=v.person_id,
            opened_by=v.opened_by,
            opened_at=v.opened_at,
            closed_at=v.closed_at,
            is_open=v.is_open,
        )


class GrantorIn(Strict):
    kind: Literal["self", "guardian"] = "self"
    guardian_name: str = ""
    guardian_relation: str = Field("", examples=["mother"])

    def domain(self) -> Grantor:
        return Grantor(GrantorKind(self.kind), self.guardian_name, self.guardian_relation)


class ConsentFormIn(Strict):
    granted: list[str] = Field(
        description="Consent purposes granted; the others are recorded as refused.",
        examples=[["care_record", "aggregate_statistics"]],
    )
    notice_version: str = Field(examples=["v1"])
    language: str = Field(examples=["en"])
    grantor: GrantorIn = Field(default_factory=GrantorIn)

    def domain(self) -> ConsentInput:
        return ConsentInput.parse(self.granted, self.notice_version, self.language, self.grantor.domain())


class PersonIn(Strict):
    given_name: str = Field(examples=["Ama"])
    family_name: str = Field(examples=["Mensah"])
    sex: Literal["female", "male", "other", "unknown"]
    birth_year: int = Field(examples=[1980])
    card_number: str = Field(
        max_length=64,
        examples=["NK1001"],
        description="Printed card number (4-20 letters/digits; spaces and dashes ignored)",
    )
    birth_date: date | None = None
    district: str = ""
    village: str = ""
    language: str = "en"

    def domain(self) -> PersonInput:
        return PersonInput(**self.model_dump())


class EnrollIn(Strict):
    person: PersonIn
    consent: ConsentFormIn
    pin: str | None = Field(None, description="Optional patient PIN (6-8 digits, not trivial) for self-service")
    confirm_new_person: bool = Field(
        False,
        description="after a 409 possible-duplicate (same name, birth year and "
        "village already enrolled): the registrar checked that this is someone else",
    )


class PersonOut(BaseModel):
    id: str = Field(examples=["CK-7F3K-92QD"])
    given_name: str
    family_name: str
    sex: str
    birth_year: int
    birth_date: date | None
    card_number: str
    district: str
    village: str
    language: str
    consents: list[str] = Field(description="Consent purposes currently granted")
    enrolled_site: str
    enrolled_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, v: PersonView) -> PersonOut:
        p = v.person
        return cls(
            id=p.id,
            given_name=p.given_name,
            family_name=p.family_name,
            sex=p.sex.value,
            birth_year=p.birth_year,
            birth_date=p.birth_date,
            card_number=p.card_number,
            district=p.district,
            village=p.village,
            language=p.language,
            consents=sorted(c.value for c in v.consents),
            enrolled_site=v.enrolled_site,
            enrolled_at=v.enrolled_at,
            last_seen_at=v.last_seen_at,
        )


class LookupIn(Strict):
    """Either ``card_number``, or ``name`` with ``birth_year`` (and optionally ``village``)."""

    card_number: str | None = Field(
        None,
        max_length=64,
        examples=["NK1001"],
        description="4-20 letters/digits, spaces and dashes ignored (else 422)",
    )
    name: str | None = Field(None, max_length=200, examples=["Ama Mensah"])
    birth_year: int | None = Field(None, ge=1900, le=2100, examples=[1980])
    village: str | None = Field(None, max_length=200)


class CandidateOut(BaseModel):
    person_id: str
    given_name: str
    family_name: str
    sex: str
    birth_year: int
    district: str
    village: str
    score: float = Field(
        description="Match score 0-100: for fingerprint and iris the calibrated score "
        "(100 x the decades of false-match rate below 1, over 6 decades; see "
        "biometrics/protection/calibration.py), for names the similarity"
    )

    @classmethod
    def of(cls, c: Candidate) -> CandidateOut:
        return cls(**c.__dict__)


class ExamIn(Strict):
    """Units are fixed: mm[Hg], /min, cm, kg, mmol/L, g/dL. BMI is derived."""

    systolic_bp: float | None = Field(None, description="mm[Hg], LOINC 8480-6", examples=[128])
    diastolic_bp: float | None = Field(None, description="mm[Hg], LOINC 8462-4", examples=[84])
    pulse: float | None = Field(None, description="/min, LOINC 8867-4", examples=[72])
    height_cm: float | None = Field(None, description="cm, LOINC 8302-2", examples=[162])
    weight_kg: float | None = Field(None, description="kg, LOINC 29463-7", examples=[68.5])
    glucose_mmol_l: float | None = Field(None, description="mmol/L, LOINC 15074-8", examples=[5.4])
    glucose_fasting: bool | None = Field(
        None,
        description="the glucose sample was taken fasting (8 h): WHO fasting cut-offs apply; false: the random "
        "cut-off (11.1 mmol/L); absent: not asked (fasting cut-offs, said so in the flag)",
    )
    hemoglobin_g_dl: float | None = Field(None, description="g/dL, LOINC 718-7", examples=[12.9])
    blood_type: str | None = Field(None, description="ABO/Rh, LOINC 882-1", examples=["O+"])
    notes: str | None = Field(None, max_length=2000)


class ObservationOut(BaseModel):
    name: str
    loinc: str
    display: str
    value: float | str
    unit: str | None


class ExamOut(BaseModel):
    id: str
    person_id: str | None = Field(description="None for an exam shown without being stored")
    visit_id: str
    site_id: str
    recorded_by: str
    recorded_at: datetime
    stored: bool
    bmi: float | None
    observations: list[ObservationOut]
    glucose_fasting: bool | None = None
    notes: str

    @classmethod
    def of(cls, e: Exam) -> ExamOut:
        return cls(
            id=e.id,
            person_id=e.person_id,
            visit_id=e.visit_id,
            site_id=e.site_id,
            recorded_by=e.recorded_by,
            recorded_at=e.recorded_at,
            stored=e.person_id is not None,
            bmi=e.bmi,
            observations=[ObservationOut(**o) for o in e.observations()],
            notes=e.notes,
            glucose_fasting=e.glucose_fasting,
        )


class PresenceIn(Strict):
    """The person's proof that they are here, typed on the device (one of the two), for the powerful actions:
    setting or resetting a PIN, erasure, granting again a consent the person refused or withdrew. A biometric
    match of the person in this visit's identification, or their enrollment in this visit, is proof enough and
    needs nothing here."""

    pin: str | None = Field(
        None, max_length=16, description="the person's current portal PIN, typed by them", examples=["482913"]
    )
    approver_username: str | None = Field(
        None,
        max_length=40,
        description="a second staff member of the visit's "
        "site (two-person rule), when the person has no PIN and no biometrics",
        examples=["clinician-north"],
    )
    approver_password: str | None = Field(None, max_length=200)

    def domain(self) -> PresenceProof:
        return PresenceProof(self.pin, self.approver_username, self.approver_password)


def proof_of(p: PresenceIn | None) -> PresenceProof:
    return p.domain() if p is not None else NO_PROOF


class ConsentDecisionIn(Strict):
    purpose: str = Field(examples=["biometric_identification"])
    granted: bool = Field(description="true grants, false revokes", examples=[False])
    notice_version: str = Field(examples=["v1"])
    language: str = Field(examples=["en"])
    grantor: GrantorIn = Field(default_factory=GrantorIn)
    presence: PresenceIn | None = Field(
        None, description="needed to grant again a purpose the person refused or withdrew"
    )


class ConsentOut(BaseModel):
    id: str
    purpose: str
    granted: bool
    notice_version: str
    language: str
    grantor_kind: str
    guardian_name: str
    guardian_relation: str
    at: datetime
    site_id: str | None
    user_id: str | None

    @classmethod
    def of(cls, c: ConsentRecord) -> ConsentOut:
        return cls(
            id=c.id,
            purpose=c.purpose.value,
            granted=c.granted,
            notice_version=c.notice_version,
            language=c.language,
            grantor_kind=c.grantor.kind.value,
            guardian_name=c.grantor.guardian_name,
            guardian_relation=c.grantor.guardian_relation,
            at=c.at,
            site_id=c.site_id,
            user_id=c.user_id,
        )


class RefusalOut(BaseModel):
    purpose: str = Field(examples=["law_enforcement"])
    month: str = Field(examples=["2026-11"])
    count: int = Field(examples=[3])


class UserIn(Strict):
    username: str = Field(examples=["registrar-east"])
    role: Literal["registrar", "clinician", "program_manager", "auditor", "admin"]
    password: str = Field(min_length=10)
    site_ids: list[str] = Field(default_factory=list, examples=[["north"]])
    display_name: str = ""


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    site_ids: list[str]
    display_name: str
    active: bool = True
    approved: bool = Field(False, description="false: awaiting a second person's approval; reaches no data")


class UserChangeIn(Strict):
    role: Literal["registrar", "clinician", "program_manager", "auditor", "admin"] | None = None
    site_ids: list[str] | None = None
    display_name: str | None = Field(None, max_length=200)


class PasswordResetIn(Strict):
    password: str = Field(min_length=10, max_length=200)


class PasswordChangeIn(Strict):
    current_password: str = Field(max_length=200)
    new_password: str = Field(min_length=10, max_length=200)


class PinIn(Strict):
    pin: str = Field(
        max_length=64, description="6-8 digits, not one digit repeated, not a run like 123456", examples=["402719"]
    )
    presence: PresenceIn | None = Field(
        None,
        description="the person's proof of presence (not needed when they "
        "were enrolled or matched by biometrics in this visit)",
    )


class EraseIn(Strict):
    presence: PresenceIn | None = None
