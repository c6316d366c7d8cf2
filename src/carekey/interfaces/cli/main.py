"""The ``carekey`` command."""

from __future__ import annotations

import typer

from carekey.interfaces.cli import bench

app = typer.Typer(help="carekey: consent-first registry for community health screening.", no_args_is_help=True)
app.add_typer(bench.app, name="bench")


@app.callback()
def main() -> None:
    """carekey: consent-first registry for community health screening."""
