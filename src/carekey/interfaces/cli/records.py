"""``carekey visit|person|consent|exam ...``: what a site scripts, as an authenticated user.

Every command prints JSON. Personal-data commands pass the same policy checks and transparency log as
the API (``--purpose`` defaults to care_record)."""

from __future__ import annotations

from typing import Annotated

import typer

from carekey.domain.consent import Grantor, GrantorKind
from carekey.errors import InvalidInput
from carekey.interfaces.cli.common import (
    DataDir,
    PurposeOpt,
    UserOpt,
    VisitOpt,
    duplicates_shown,
    emit,
    handled,
    session,
)
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from carekey.services.presence import NO_PROOF, PresenceProof

visit_app = typer.Typer(help="Open and close visits.", no_args_is_help=True)
person_app = typer.Typer(help="Enroll, look up, show and erase a person (within an open visit).", no_args_is_help=True)
consent_app = typer.Typer(help="Grant or revoke a consent; show the history.", no_args_is_help=True)
exam_app = typer.Typer(help="Record and read exams.", no_args_is_help=True)

PersonArg = Annotated[str, typer.Argument(help="program id, e.g. CK-7F3K-92QD")]
GuardianName = Annotated[str, typer.Option(help="guardian's name (minors)")]
GuardianRelation = Annotated[str, typer.Option(help="guardian's relation, e.g. mother")]
GuardianDecides = Annotated[bool, typer.Option(help="the guardian decides (child under 12)")]


def _grantor(name: str, relation: str, decides: bool) -> Grantor:
    return Grantor(GrantorKind.GUARDIAN if decides else GrantorKind.SELF, name, relation)


@visit_app.command("open")
def visit_open(data: DataDir, user: UserOpt, site: Annotated[str, typer.Option(help="your site id")]) -> None:
    """Open a visit at your site; prints its id."""
    with session(data, user) as (app, actor):
        emit(app.services.visits.open(actor, site))


@visit_app.command("close")
def visit_close(data: DataDir, user: UserOpt, visit_id: Annotated[str, typer.Argument(help="visit id")]) -> None:
    """Close a visit: nothing more can be read or written through it."""
    with session(data, user) as (app, actor):
        emit(app.services.visits.close(actor, visit_id))


@person_app.command("enroll")
def enroll(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    given: Annotated[str, typer.Option(help="given name")],
    family: Annotated[str, typer.Option(help="family name")],
    sex: Annotated[str, typer.Option(help="female, male, other or unknown")],
    birth_year: Annotated[int, typer.Option(help="year of birth")],
    card: Annotated[str, typer.Option(help="printed card number")],
    consent: Annotated[
        list[str], typer.Option(help="consent purpose granted (repeat); care_record is required to store anything")
    ],
    village: Annotated[str, typer.Option(help="village")] = "",
    district: Annotated[str, typer.Option(help="district")] = "",
    notice_version: Annotated[str, typer.Option(help="consent notice version shown")] = "v1",
    language: Annotated[str, typer.Option(help="language of the notice")] = "en",
    guardian_name: GuardianName = "",
    guardian_relation: GuardianRelation = "",
    guardian_decides: GuardianDecides = False,
    purpose: PurposeOpt = "care_record",
    confirm_new_person: Annotated[
        bool,
        typer.Option(
            "--confirm-new-person",
            help="after a possible duplicate (same name, birth year and village): the person is someone else",
        ),
    ] = False,
) -> None:
    """Enroll a person with the consents they grant now. Someone already enrolled with the same name, birth year and
    village is a possible duplicate (exit 7, candidates printed) unless --confirm-new-person."""
    with session(data, user) as (app, actor), duplicates_shown():
        form = ConsentInput.parse(
            consent, notice_version, language, _grantor(guardian_name, guardian_relation, guardian_decides)
        )
        person = PersonInput(
            given, family, sex, birth_year, card, village=village, district=district, language=language
        )
        emit(app.services.people.enroll(actor, visit, purpose, person, form, confirm_new=confirm_new_person))


@person_app.command("lookup")
def lookup(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    card: Annotated[str | None, typer.Option(help="card number")] = None,
    name: Annotated[str | None, typer.Option(help="name (fuzzy)")] = None,
    birth_year: Annotated[int | None, typer.Option(help="year of birth (with --name)")] = None,
    village: Annotated[str | None, typer.Option(help="village (narrows --name)")] = None,
    purpose: PurposeOpt = "care_record",
) -> None:
    """Find a returning person: at most 5 candidates, logged, rate-limited."""
    with session(data, user) as (app, actor):
        if card:
            emit(app.services.lookup.by_card(actor, visit, purpose, card))
        elif name and birth_year is not None:
            emit(app.services.lookup.by_name(actor, visit, purpose, name, birth_year, village))
        else:
            with handled():
                raise InvalidInput("give --card, or --name and --birth-year")


@person_app.command("show")
def show(
    data: DataDir, user: UserOpt, visit: VisitOpt, person_id: PersonArg, purpose: PurposeOpt = "care_record"
) -> None:
    """Show a person's record (confirms them for this visit)."""
    with session(data, user) as (app, actor):
        emit(app.services.people.read(actor, visit, purpose, person_id))


Approver = Annotated[
    str | None,
    typer.Option(
        "--approver",
        help="a second staff member of the visit's site who vouches that the person is here (two-person "
        "rule; their password from CAREKEY_APPROVER_PASSWORD or a prompt), when the person has no PIN",
    ),
]
PresencePin = Annotated[
    bool,
    typer.Option(
        "--person-pin",
        help="the person proves they are here by typing their current PIN (CAREKEY_PRESENCE_PIN or a prompt)",
    ),
]


def _proof(person_pin: bool, approver: str | None) -> PresenceProof:
    """The person's proof of presence for a PIN change, an erasure or a re-grant (nothing: rely on a biometric
    match or an enrollment in this visit)."""
    import os

    pin = (
        (os.environ.get("CAREKEY_PRESENCE_PIN") or typer.prompt("the person types their PIN", hide_input=True))
        if person_pin
        else None
    )
    password = (
        (os.environ.get("CAREKEY_APPROVER_PASSWORD") or typer.prompt(f"password for {approver}", hide_input=True))
        if approver
        else None
    )
    return PresenceProof(pin, approver, password)


@person_app.command("set-pin")
def set_pin(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    purpose: PurposeOpt = "care_record",
    person_pin: PresencePin = False,
    approver: Approver = None,
) -> None:
    """Set or reset the person's patient PIN (6-8 digits; from CAREKEY_NEW_PIN or typed by the person). The person
    proves they are here (--person-pin, --approver, or a biometric match / enrollment in this visit); their open
    portal sessions end."""
    import os

    pin = os.environ.get("CAREKEY_NEW_PIN") or typer.prompt("new PIN", hide_input=True, confirmation_prompt=True)
    proof = _proof(person_pin, approver)
    with session(data, user) as (app, actor):
        app.services.people.set_pin(actor, visit, purpose, person_id, pin, proof)
        emit({"pin_set": person_id})


@person_app.command("erase")
def erase(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
    purpose: PurposeOpt = "care_record",
    person_pin: PresencePin = False,
    approver: Approver = None,
) -> None:
    """Erase a person at their request (crypto-shredding; irreversible); the person proves they are here."""
    if not yes:
        typer.confirm(f"erase {person_id} irreversibly?", abort=True)
    proof = _proof(person_pin, approver)
    with session(data, user) as (app, actor):
        app.services.people.erase(actor, visit, purpose, person_id, proof)
        emit({"erased": person_id})


def _consent(
    data,
    user,
    visit,
    person_id,
    consent_purpose,
    granted,
    notice_version,
    language,
    grantor,
    purpose,
    proof=NO_PROOF,
) -> None:
    with session(data, user) as (app, actor):
        emit(
            app.services.consents.decide(
                actor, visit, purpose, person_id, consent_purpose, granted, notice_version, language, grantor, proof
            )
        )


@consent_app.command("grant")
def grant(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    consent_purpose: Annotated[
        str,
        typer.Argument(help="care_record, biometric_identification, biometric_image_retention or aggregate_statistics"),
    ],
    notice_version: Annotated[str, typer.Option(help="notice version shown")] = "v1",
    language: Annotated[str, typer.Option(help="notice language")] = "en",
    guardian_name: GuardianName = "",
    guardian_relation: GuardianRelation = "",
    guardian_decides: GuardianDecides = False,
    purpose: PurposeOpt = "care_record",
    person_pin: PresencePin = False,
    approver: Approver = None,
) -> None:
    """Grant one consent (age rules apply). Granting again what the person refused or withdrew needs their proof of
    presence (--person-pin, --approver, or a biometric match in this visit)."""
    _consent(
        data,
        user,
        visit,
        person_id,
        consent_purpose,
        True,
        notice_version,
        language,
        _grantor(guardian_name, guardian_relation, guardian_decides),
        purpose,
        _proof(person_pin, approver),
    )


@consent_app.command("revoke")
def revoke(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    consent_purpose: Annotated[str, typer.Argument(help="the consent purpose to revoke")],
    purpose: PurposeOpt = "care_record",
) -> None:
    """Revoke one consent; effective at once (templates and kept images are deleted on revoking
    biometric_identification, kept images on revoking biometric_image_retention)."""
    _consent(data, user, visit, person_id, consent_purpose, False, "v1", "en", Grantor(), purpose)


@consent_app.command("history")
def history(
    data: DataDir, user: UserOpt, visit: VisitOpt, person_id: PersonArg, purpose: PurposeOpt = "care_record"
) -> None:
    """Every consent decision of the person."""
    with session(data, user) as (app, actor):
        emit(app.services.consents.history(actor, visit, purpose, person_id))


def _exam_out(e) -> dict[str, object]:
    return {
        "id": e.id,
        "person_id": e.person_id,
        "recorded_at": e.recorded_at,
        "site_id": e.site_id,
        "bmi": e.bmi,
        "observations": e.observations(),
        "glucose_fasting": e.glucose_fasting,
        "notes": e.notes,
    }


@exam_app.command("record")
def exam_record(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    systolic: Annotated[float | None, typer.Option(help="mm[Hg]")] = None,
    diastolic: Annotated[float | None, typer.Option(help="mm[Hg]")] = None,
    pulse: Annotated[float | None, typer.Option(help="/min")] = None,
    height: Annotated[float | None, typer.Option(help="cm")] = None,
    weight: Annotated[float | None, typer.Option(help="kg")] = None,
    glucose: Annotated[float | None, typer.Option(help="mmol/L")] = None,
    fasting: Annotated[
        bool | None, typer.Option("--fasting/--not-fasting", help="the glucose sample was taken fasting (8 h)")
    ] = None,
    hemoglobin: Annotated[float | None, typer.Option(help="g/dL")] = None,
    blood_type: Annotated[str | None, typer.Option(help="A+, O-, AB+ ...")] = None,
    notes: Annotated[str | None, typer.Option(help="free text")] = None,
    purpose: PurposeOpt = "care_record",
) -> None:
    """Record an exam (fixed units; BMI derived)."""
    values = {
        "systolic_bp": systolic,
        "diastolic_bp": diastolic,
        "pulse": pulse,
        "height_cm": height,
        "weight_kg": weight,
        "glucose_mmol_l": glucose,
        "hemoglobin_g_dl": hemoglobin,
        "blood_type": blood_type,
        "notes": notes,
        "glucose_fasting": fasting,
    }
    with session(data, user) as (app, actor):
        emit(
            _exam_out(
                app.services.exams.record(
                    actor, visit, purpose, person_id, {k: v for k, v in values.items() if v is not None}
                )
            )
        )


@exam_app.command("list")
def exam_list(
    data: DataDir, user: UserOpt, visit: VisitOpt, person_id: PersonArg, purpose: PurposeOpt = "care_record"
) -> None:
    """A person's exams, oldest first."""
    with session(data, user) as (app, actor):
        emit([_exam_out(e) for e in app.services.exams.read(actor, visit, purpose, person_id)])
