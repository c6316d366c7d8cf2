"""Shared CLI plumbing: settings from --data, opening the app, login, errors -> exit codes, JSON output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from carekey import bootstrap
from carekey.config import Settings
from carekey.errors import (
    CarekeyError,
    Conflict,
    Forbidden,
    InvalidInput,
    KeyCheckFailed,
    NotAuthenticated,
    NotFound,
    PossibleDuplicate,
    StorageUnavailable,
)
from carekey.services.deps import Actor

DEFAULT_DATA = Path("var")
DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="CAREKEY_DATA_DIR",
        default_factory=lambda: DEFAULT_DATA,
        show_default="$CAREKEY_DATA_DIR, else var",
        help="Data folder (database, key files).",
    ),
]
UserOpt = Annotated[
    str,
    typer.Option(
        "--user",
        "-u",
        envvar="CAREKEY_USER",
        help="Your username; the password comes from CAREKEY_PASSWORD or a prompt.",
    ),
]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Purpose of this access (logged).")]
VisitOpt = Annotated[str, typer.Option("--visit", "-v", help="Id of the open visit (carekey visit open).")]

EXIT_CODES = [
    (InvalidInput, 3),
    (NotAuthenticated, 4),
    (Forbidden, 5),
    (NotFound, 6),
    (Conflict, 7),
    (KeyCheckFailed, 9),
    (StorageUnavailable, 10),
]


def settings_for(data: Path) -> Settings:
    return Settings(data_dir=data)


@contextmanager
def handled() -> Iterator[None]:
    """Print a carekey error as ``error: <title>: <message>`` and exit with its code (1 if unlisted)."""
    try:
        yield
    except CarekeyError as err:
        typer.echo(f"error: {err.title}: {err.message}", err=True)
        code = next((c for cls, c in EXIT_CODES if isinstance(err, cls)), 1)
        raise typer.Exit(code) from None


@contextmanager
def duplicates_shown() -> Iterator[None]:
    """A possible duplicate: its candidates on stdout (JSON) for the registrar, the message on stderr, exit 7."""
    try:
        yield
    except PossibleDuplicate as err:
        emit({"possible_duplicate": err.detail.get("candidates", [])})
        typer.echo(f"error: {err.title}: {err.message}", err=True)
        raise typer.Exit(7) from None


@contextmanager
def opened(data: Path) -> Iterator[bootstrap.App]:
    with handled():
        app = bootstrap.build(settings_for(data))
        try:
            yield app
            # what this command logged is covered by a signed head (and the heads file) when it ends; a log
            # failing its checks is not signed (`carekey log verify` reports it)
            with suppress(CarekeyError):
                app.services.transparency.publish_if_due(force=True)
        finally:
            app.close()


@contextmanager
def session(data: Path, user: str) -> Iterator[tuple[bootstrap.App, Actor]]:
    """Open the app and log in as ``user`` (token revoked on exit)."""
    password = os.environ.get("CAREKEY_PASSWORD") or typer.prompt(f"password for {user}", hide_input=True)
    with opened(data) as app:
        issued = app.services.auth.login(user, password, "cli")
        try:
            yield app, issued.actor
        finally:
            app.services.auth.logout(issued.token)


def _plain(obj: object) -> object:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _plain(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items: list[Any] = [_plain(v) for v in obj]  # set members are comparable (str, int...)
        return sorted(items) if isinstance(obj, set | frozenset) else items
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return obj


def emit(obj: object) -> None:
    """Print as JSON (stable keys), for people and for scripts."""
    typer.echo(json.dumps(_plain(obj), indent=2, ensure_ascii=False))
