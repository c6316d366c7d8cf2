"""``carekey program|site|user ...``: set-up done by the operator holding the data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from carekey.bootstrap import App
from carekey.domain.program import Program, Site
from carekey.interfaces.cli.common import DataDir, emit, opened, session
from carekey.services.admin import LOCAL_OPERATOR
from carekey.services.deps import Actor

program_app = typer.Typer(help="Screening programs.", no_args_is_help=True)
site_app = typer.Typer(help="Sites of a program.", no_args_is_help=True)
user_app = typer.Typer(
    help="Staff users (argon2id password hashes). A new or changed account reaches no data until "
    "a second person approves it (`carekey user approve`); every action is logged.",
    no_args_is_help=True,
)


@program_app.command("add")
def program_add(
    data: DataDir,
    program_id: Annotated[str, typer.Argument(help="short id, e.g. demo")],
    name: Annotated[str, typer.Option(help="display name")],
    notice_version: Annotated[list[str], typer.Option(help="consent notice versions in force")] = ["v1"],  # noqa: B006
    language: Annotated[list[str], typer.Option(help="notice languages offered")] = ["en"],  # noqa: B006
) -> None:
    """Create a screening program."""
    with opened(data) as app:
        emit(
            app.services.admin.create_program(
                LOCAL_OPERATOR, Program(program_id, name, tuple(notice_version), tuple(language))
            )
        )


@site_app.command("add")
def site_add(
    data: DataDir,
    site_id: Annotated[str, typer.Argument(help="short id, e.g. north")],
    program: Annotated[str, typer.Option(help="program id")],
    name: Annotated[str, typer.Option(help="display name")],
    district: Annotated[str, typer.Option(help="district")] = "",
) -> None:
    """Add a site to a program."""
    with opened(data) as app:
        emit(app.services.admin.add_site(LOCAL_OPERATOR, Site(site_id, program, name, district)))


@user_app.command("add")
def user_add(
    data: DataDir,
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="registrar, clinician, program_manager, auditor or admin")],
    site: Annotated[list[str], typer.Option(help="site id (repeat for several)")] = [],  # noqa: B006
    display_name: Annotated[str, typer.Option(help="full name")] = "",
    actor_name: OptionalUser = None,
) -> None:
    """Add a staff user, awaiting a second person's approval (`carekey user approve USERNAME --user ADMIN`, by an
    admin or the program manager). The password comes from CAREKEY_NEW_PASSWORD or a prompt (asked twice). Once
    the folder has an admin account, name yourself with --user (the first admin is created without it)."""
    password = os.environ.get("CAREKEY_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    with _as(data, actor_name) as (app, actor):
        user = app.services.admin.add_user(actor, username, role, password, site, display_name)
        emit(
            {
                "id": user.id,
                "username": user.username,
                "role": user.role,
                "site_ids": user.site_ids,
                "approved": user.approved,
            }
        )


OptionalUser = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="CAREKEY_USER",
        help="Act as this admin account (password from CAREKEY_PASSWORD or a prompt); needed once the folder has "
        "an admin account (before that: the local operator)",
    ),
]


@contextmanager
def _as(data: Path, user: str | None) -> Iterator[tuple[App, Actor]]:
    """The admin acting: ``--user`` signed in, or the local operator while the folder has no admin account yet
    (an anonymous operator's change could be approved by the very admin who made it)."""
    if user:
        with session(data, user) as (app, actor):
            yield app, actor
        return
    with opened(data) as app:
        if not app.services.admin.operator_may_change_accounts():
            typer.echo(
                "error: this data folder has an admin account: name yourself with --user ADMIN (password from "
                "CAREKEY_PASSWORD or a prompt), so that a second person approves the change",
                err=True,
            )
            raise typer.Exit(3)
        yield app, LOCAL_OPERATOR


def _show(u) -> dict[str, object]:
    return {"username": u.username, "role": u.role, "site_ids": u.site_ids, "active": u.active, "approved": u.approved}


@user_app.command("list")
def user_list(data: DataDir) -> None:
    """List staff users (never passwords), with whether each is active and approved."""
    with opened(data) as app:
        emit([_show(u) for u in app.services.admin.users(LOCAL_OPERATOR)])


@user_app.command("approve")
def user_approve(
    data: DataDir,
    username: Annotated[str, typer.Argument(help="the account to approve")],
    user: Annotated[
        str,
        typer.Option(
            "--user",
            "-u",
            envvar="CAREKEY_USER",
            help="you: an admin or the program manager, not the account's "
            "creator (password from CAREKEY_PASSWORD or a prompt)",
        ),
    ],
) -> None:
    """Approve a new or changed account: the second person's signature (logged and counted publicly)."""
    with session(data, user) as (app, actor):
        emit(_show(app.services.admin.approve_user(actor, username)))


@user_app.command("change")
def user_change(
    data: DataDir,
    username: Annotated[str, typer.Argument(help="the account")],
    role: Annotated[str | None, typer.Option(help="new role")] = None,
    site: Annotated[list[str] | None, typer.Option(help="new site ids (repeat); replaces the list")] = None,
    user: OptionalUser = None,
) -> None:
    """Change an account's role or sites: it is signed out and needs a new approval."""
    with _as(data, user) as (app, actor):
        emit(_show(app.services.admin.change_user(actor, username, role, site or None)))


@user_app.command("reset-password")
def user_reset_password(
    data: DataDir, username: Annotated[str, typer.Argument(help="the account")], user: OptionalUser = None
) -> None:
    """Set a new password (from CAREKEY_NEW_PASSWORD or a prompt): the account is signed out and needs a new
    approval, since whoever reset it knows the password."""
    password = os.environ.get("CAREKEY_NEW_PASSWORD") or typer.prompt(
        "new password", hide_input=True, confirmation_prompt=True
    )
    with _as(data, user) as (app, actor):
        emit(_show(app.services.admin.reset_password(actor, username, password)))


@user_app.command("deactivate")
def user_deactivate(
    data: DataDir, username: Annotated[str, typer.Argument(help="the account")], user: OptionalUser = None
) -> None:
    """Deactivate an account: signed out at once, can no longer sign in."""
    with _as(data, user) as (app, actor):
        emit(_show(app.services.admin.set_active(actor, username, False)))


@user_app.command("reactivate")
def user_reactivate(
    data: DataDir, username: Annotated[str, typer.Argument(help="the account")], user: OptionalUser = None
) -> None:
    """Reactivate an account; it needs a new approval."""
    with _as(data, user) as (app, actor):
        emit(_show(app.services.admin.set_active(actor, username, True)))


@user_app.command("passwd")
def user_passwd(
    data: DataDir, user: Annotated[str, typer.Option("--user", "-u", envvar="CAREKEY_USER", help="your username")]
) -> None:
    """Change your own password (current one from CAREKEY_PASSWORD or a prompt, new one from CAREKEY_NEW_PASSWORD
    or a prompt)."""
    new = os.environ.get("CAREKEY_NEW_PASSWORD") or typer.prompt(
        "new password", hide_input=True, confirmation_prompt=True
    )
    current = os.environ.get("CAREKEY_PASSWORD") or typer.prompt(f"current password for {user}", hide_input=True)
    with opened(data) as app:
        issued = app.services.auth.login(user, current, "cli")
        try:
            app.services.admin.change_own_password(issued.actor, current, new)
        finally:
            app.services.auth.logout(issued.token)
    typer.echo("password changed")
