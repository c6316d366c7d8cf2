"""``carekey patient ...``: the person's own data, with their card number and PIN (CAREKEY_PIN or a prompt)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from carekey.bootstrap import App
from carekey.interfaces.cli.common import DataDir, emit, opened
from carekey.services.patients import Patient, consent_dict, exam_dict

patient_app = typer.Typer(
    help="Your own data: record, consents, accesses with proofs, export, erasure.", no_args_is_help=True
)
CardOpt = Annotated[str, typer.Option("--card", envvar="CAREKEY_CARD", help="your card number")]


@contextmanager
def signed_in(data: Path, card: str) -> Iterator[tuple[App, Patient]]:
    pin = os.environ.get("CAREKEY_PIN") or typer.prompt("PIN", hide_input=True)
    with opened(data) as app:
        token = app.services.patients.login(card, pin, "cli")
        try:
            yield app, app.services.patients.authenticate(token.token)
        finally:
            app.services.patients.logout(token.token)


@patient_app.command("record")
def record(data: DataDir, card: CardOpt) -> None:
    """Your record and exams."""
    with signed_in(data, card) as (app, me):
        r = app.services.patients.record(me)
        emit(
            {
                "person": r.person.to_dict(),
                "consents": r.consents,
                "exams": [exam_dict(e) for e in r.exams],
                "biometric_images_kept": r.images_kept,
            }
        )


@patient_app.command("consents")
def consents(data: DataDir, card: CardOpt) -> None:
    """Your consent decisions, oldest first."""
    with signed_in(data, card) as (app, me):
        emit([consent_dict(c) for c in app.services.patients.consents(me)])


@patient_app.command("revoke")
def revoke(
    data: DataDir,
    card: CardOpt,
    purpose: Annotated[
        str,
        typer.Argument(
            help="care_record, biometric_identification, biometric_image_retention, aggregate_statistics or ehr_sharing"
        ),
    ],
) -> None:
    """Withdraw one consent (biometric_identification: your templates and kept images are deleted now;
    biometric_image_retention: your kept images are deleted now)."""
    with signed_in(data, card) as (app, me):
        emit(consent_dict(app.services.patients.revoke(me, purpose)))


@patient_app.command("grant")
def grant(
    data: DataDir,
    card: CardOpt,
    purpose: Annotated[
        str,
        typer.Argument(
            help="care_record, biometric_identification, biometric_image_retention, aggregate_statistics or ehr_sharing"
        ),
    ],
) -> None:
    """Say yes again to one purpose you refused or withdrew (adults; under 18, with a guardian at a screening)."""
    with signed_in(data, card) as (app, me):
        emit(consent_dict(app.services.patients.grant(me, purpose)))


@patient_app.command("accesses")
def accesses(data: DataDir, card: CardOpt) -> None:
    """Every access to your data, each with an inclusion receipt (check with `carekey log check-receipt`)."""
    with signed_in(data, card) as (app, me):
        emit([v.to_dict() for v in app.services.patients.accesses(me)])


@patient_app.command("export")
def export(
    data: DataDir,
    card: CardOpt,
    fmt: Annotated[
        str, typer.Option("--format", help="json (carekey's own, complete) or fhir (an R4 Bundle for health systems)")
    ] = "json",
) -> None:
    """All your data as JSON, or as a FHIR R4 Bundle with --format fhir."""
    if fmt not in ("json", "fhir"):
        typer.echo("error: --format is json or fhir", err=True)
        raise typer.Exit(3)
    with signed_in(data, card) as (app, me):
        services = app.services
        if fmt == "json":
            emit(services.patients.export(me))
        elif services.fhir_export is None:  # bootstrap.build always wires it
            raise RuntimeError("the FHIR export service is not wired")
        else:
            emit(services.fhir_export.export(me))


@patient_app.command("erase")
def erase(data: DataDir, card: CardOpt, yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False) -> None:
    """Erase your data (irreversible: your data key is destroyed)."""
    if not yes:
        typer.confirm("erase all your data irreversibly?", abort=True)
    with signed_in(data, card) as (app, me):
        app.services.patients.erase(me)
        emit({"erased": me.person_id})
