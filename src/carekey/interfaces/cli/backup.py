"""``carekey backup``, ``carekey backup verify``, ``carekey restore``: the database and its three key files,
sealed with a passphrase (``CAREKEY_BACKUP_PASSPHRASE`` or a prompt). See ``carekey.storage.backup``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from carekey.interfaces.cli.common import DataDir, emit, handled, settings_for

backup_app = typer.Typer(
    help="Back up the data folder (database + key files), sealed with a passphrase; "
    "`carekey backup verify FILE` checks a backup.",
    invoke_without_command=True,
)
FileArg = Annotated[Path, typer.Argument(help="a backup file made by `carekey backup`")]


def _passphrase(confirm: bool) -> str:
    given = os.environ.get("CAREKEY_BACKUP_PASSPHRASE")
    if given:
        return given
    return str(typer.prompt("backup passphrase", hide_input=True, confirmation_prompt=confirm))


@backup_app.callback()
def backup(
    ctx: typer.Context,
    data: DataDir,
    out: Annotated[Path | None, typer.Option("--out", help="the backup file to write (mode 0600)")] = None,
) -> None:
    """Write a sealed backup: a consistent online snapshot of the database (SQLite backup API, or pg_dump for
    PostgreSQL) and the three key files, encrypted with a passphrase (scrypt + AES-256-GCM)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter("name the backup file with --out FILE", param_hint="--out")
    from carekey.storage import backup as store

    with handled():
        manifest = store.create(settings_for(data), out, _passphrase(confirm=True))
    files = manifest["files"]
    assert isinstance(files, dict)
    typer.echo(
        f"backup of {data} written to {out} (mode 0600): {manifest['database']} database, "
        f"{len(files)} files, {sum(int(f['bytes']) for f in files.values())} bytes before compression"
    )


@backup_app.command("verify")
def verify(file: FileArg) -> None:
    """Check a backup without restoring it: passphrase, every chunk's authentication tag, the checksum of each
    file, the key files, the key store and (SQLite) the database's integrity check. Exit 0 only if all hold."""
    from carekey.storage import backup as store

    with handled():
        emit(store.verify(file, _passphrase(confirm=False)))


def restore(file: FileArg, data: DataDir) -> None:
    """Restore a backup into an empty data folder (PostgreSQL: into CAREKEY_DATABASE_URL, an empty database),
    files mode 0600, then migrate. Erasures made after the backup was taken are NOT in it: see docs/deploy.md."""
    from carekey.storage import backup as store

    with handled():
        report = store.restore(file, _passphrase(confirm=False), settings_for(data))
    emit(report)
    typer.echo(
        f"restored a backup of {report['created_at']} into {data}; start the server with `carekey serve --data {data}`",
        err=True,
    )
