"""``carekey keys ...``: key management by the operator holding the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carekey import bootstrap
from carekey.interfaces.cli.common import DataDir, emit, handled, opened, settings_for
from carekey.interfaces.cli.progress import track
from carekey.services.admin import LOCAL_OPERATOR

keys_app = typer.Typer(help="Program keys.", no_args_is_help=True)


@keys_app.command("rotate-biometric")
def rotate_biometric(
    data: DataDir,
    renew: Annotated[
        bool,
        typer.Option(
            "--renew", help="then renew the templates of people who opted in to keeping their images (renew-biometric)"
        ),
    ] = False,
) -> None:
    """Start a new biometric key version: new captures enroll under it; old templates are retired (no longer
    searched; deleted on re-enrollment and by `carekey retention run`). Use it when a gallery may have leaked."""
    with handled():
        version = bootstrap.rotate_biometric_key(settings_for(data))
    with opened(data) as app:
        app.services.admin.record_key_rotation(LOCAL_OPERATOR, f"biometric key version {version}")
    emit(
        {
            "biometric_key_version": version,
            "note": "templates of older versions are retired; people re-enroll at their next visit"
            + ("" if renew else "; run `carekey keys renew-biometric` for those who opted in to kept images"),
        }
    )
    if renew:
        _renew(data)


@keys_app.command("renew-biometric")
def renew_biometric(data: DataDir) -> None:
    """Re-extract, under the current key version, the templates of people who opted in to keeping their
    enrollment images (biometric_image_retention). Each person's images are decrypted in memory only; each
    renewal passes the policy engine and is in the person's access log. Others re-enroll at their next capture."""
    _renew(data)


def _renew(data: Path) -> None:
    with opened(data) as app:
        renewal = app.services.renewal
        if renewal is None:
            typer.echo("error: no biometric matcher is configured", err=True)
            raise typer.Exit(1)
        report = renewal.run(progress=track)
        app.services.transparency.tree_head()  # the renewals end with a signed tree head
    # counts only: who was renewed or failed is personal data; each failure is in that person's own access log
    emit(
        {
            "biometric_key_version": report.key_version,
            "renewed": len(report.renewed),
            "templates": report.templates,
            "skipped": len(report.skipped),
            "failed": len(report.failed),
        }
    )
    if report.failed:
        typer.echo(
            f"error: {len(report.failed)} person(s) could not be renewed from their kept images; each "
            "failed renewal is in that person's own access log, and they re-enroll at their next capture",
            err=True,
        )
        raise typer.Exit(1)
