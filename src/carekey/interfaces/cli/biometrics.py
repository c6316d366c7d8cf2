"""``carekey person capture|identify|same-as``: fingerprint and iris from a script (e.g. a scanner's export folder).

The same service calls, policy, log entries and errors as the API and the web UI. A possible duplicate (exit
code 7) prints its candidates as JSON on stdout (``{"possible_duplicate": [...]}``); the registrar then runs
``person same-as`` (it is that person) or the capture again with ``--override twins|false_match``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carekey.biometrics.modality import MODALITIES
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
from carekey.interfaces.cli.records import PersonArg, person_app
from carekey.services.biometrics import OVERRIDE_REASONS, POSITIONS, BiometricService

BIO = "biometric_identification"
Modality = Annotated[str, typer.Option(help=f"{' or '.join(MODALITIES)}")]


def _image(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise InvalidInput(f"no image file at {path}", field="image")
    if path.stat().st_size > limit:
        raise InvalidInput(f"the image is larger than {limit // (1024 * 1024)} MB", field="image")
    data = path.read_bytes()
    if not data:
        raise InvalidInput("the image file is empty; capture again", field="image")
    return data


def _checked(modality: str, position: str | None = None) -> None:
    if modality not in MODALITIES:
        raise InvalidInput(f"--modality must be one of {', '.join(MODALITIES)}")
    if position is not None and position not in POSITIONS[modality]:
        raise InvalidInput(f"the position of a {modality} is one of {', '.join(POSITIONS[modality])}")


def _bio(app) -> BiometricService:
    if app.services.biometrics is None:
        raise InvalidInput("biometrics are not available here; use the card or the name")
    return app.services.biometrics


@person_app.command("capture")
def capture(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    modality: Modality,
    position: Annotated[str, typer.Option(help="right_index, left_index, right_thumb... or right_eye, left_eye")],
    image: Annotated[Path, typer.Option(help="the scanner's image file")],
    override: Annotated[
        str | None,
        typer.Option(help=f"after a possible duplicate: why this is someone else ({', '.join(OVERRIDE_REASONS)})"),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace a position already enrolled")] = False,
    purpose: PurposeOpt = BIO,
) -> None:
    """Capture a fingerprint or iris of the person (biometric_identification consent); the first of a modality is
    checked against the program for duplicates."""
    with session(data, user) as (app, actor), handled(), duplicates_shown():
        _checked(modality, position)
        bio = _bio(app)
        raw = _image(image, app.settings.upload_max_bytes)
        template_id = bio.enroll(
            actor, visit, purpose, person_id, modality, position, raw, override=override, replace=replace
        )
        emit(
            {
                "template_id": template_id,
                "modality": modality,
                "position": position,
                "enrolled": bio.enrolled_positions(person_id),
            }
        )


@person_app.command("identify")
def identify(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    modality: Modality,
    image: Annotated[
        list[str],
        typer.Option(help="an image file, or POSITION=FILE (repeat: one per finger or eye, e.g. right_index=a.tif)"),
    ],
    person_agreed: Annotated[
        bool,
        typer.Option(
            "--person-agreed", help="the person present heard the notice and agreed to this search (required)"
        ),
    ] = False,
    purpose: PurposeOpt = BIO,
) -> None:
    """Identify by fingerprint or iris in the visit's program: at most 5 candidates, logged, rate-limited."""
    with session(data, user) as (app, actor), handled():
        _checked(modality)
        images: dict[str, bytes] = {}
        for item in image:
            pos, sep, path = item.rpartition("=") if "=" in item else ("", "", item)
            if pos:
                _checked(modality, pos)
            if pos in images:
                raise InvalidInput("give each position once (and a single image without a position)")
            images[pos] = _image(Path(path), app.settings.upload_max_bytes)
        if "" in images and len(images) > 1:
            raise InvalidInput("with several images, name the position of each (POSITION=FILE)")
        emit(_bio(app).identify(actor, visit, purpose, modality, images, person_agreed=person_agreed))


@person_app.command("same-as")
def same_as(
    data: DataDir,
    user: UserOpt,
    visit: VisitOpt,
    person_id: PersonArg,
    existing: Annotated[str, typer.Option(help="the candidate of the possible duplicate who is this person")],
    purpose: PurposeOpt = "care_record",
) -> None:
    """After a possible duplicate: the person enrolled in this visit is ``--existing``. The new record is erased
    (nothing of it is kept) and the visit serves the existing person, whose record is printed."""
    with session(data, user) as (app, actor), handled():
        _bio(app).confirm_duplicate(actor, visit, purpose, person_id, existing)
        emit(app.services.people.read(actor, visit, purpose, existing))
