"""``carekey keys ...``: key management by the operator holding the data folder."""

from __future__ import annotations

import typer

from carekey import bootstrap
from carekey.interfaces.cli.common import DataDir, emit, handled, settings_for

keys_app = typer.Typer(help="Program keys.", no_args_is_help=True)


@keys_app.command("rotate-biometric")
def rotate_biometric(data: DataDir) -> None:
    """Start a new biometric key version: new captures enroll under it; old templates are retired (no longer
    searched; deleted on re-enrollment and by `carekey retention run`). Use it when a gallery may have leaked."""
    with handled():
        version = bootstrap.rotate_biometric_key(settings_for(data))
    emit({"biometric_key_version": version,
          "note": "templates of older versions are retired; people re-enroll at their next visit"})
