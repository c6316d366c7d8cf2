"""``carekey program|site|user ...``: set-up done by the operator holding the data folder."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from carekey.domain.program import Program, Site
from carekey.interfaces.cli.common import DataDir, emit, opened
from carekey.services.admin import LOCAL_OPERATOR

program_app = typer.Typer(help="Screening programs.", no_args_is_help=True)
site_app = typer.Typer(help="Sites of a program.", no_args_is_help=True)
user_app = typer.Typer(help="Staff users (argon2id password hashes).", no_args_is_help=True)


@program_app.command("add")
def program_add(data: DataDir, program_id: Annotated[str, typer.Argument(help="short id, e.g. demo")],
                name: Annotated[str, typer.Option(help="display name")],
                notice_version: Annotated[list[str], typer.Option(help="consent notice versions in force")] = ["v1"],  # noqa: B006
                language: Annotated[list[str], typer.Option(help="notice languages offered")] = ["en"]) -> None:  # noqa: B006
    """Create a screening program."""
    with opened(data) as app:
        emit(app.services.admin.create_program(LOCAL_OPERATOR, Program(program_id, name, tuple(notice_version),
                                                                        tuple(language))))


@site_app.command("add")
def site_add(data: DataDir, site_id: Annotated[str, typer.Argument(help="short id, e.g. north")],
             program: Annotated[str, typer.Option(help="program id")],
             name: Annotated[str, typer.Option(help="display name")],
             district: Annotated[str, typer.Option(help="district")] = "") -> None:
    """Add a site to a program."""
    with opened(data) as app:
        emit(app.services.admin.add_site(LOCAL_OPERATOR, Site(site_id, program, name, district)))


@user_app.command("add")
def user_add(data: DataDir, username: Annotated[str, typer.Argument(help="login name")],
             role: Annotated[str, typer.Option(help="registrar, clinician, program_manager, auditor or admin")],
             site: Annotated[list[str], typer.Option(help="site id (repeat for several)")] = [],  # noqa: B006
             display_name: Annotated[str, typer.Option(help="full name")] = "") -> None:
    """Add a staff user. The password comes from CAREKEY_NEW_PASSWORD or a prompt (asked twice)."""
    password = os.environ.get("CAREKEY_NEW_PASSWORD") or typer.prompt("password", hide_input=True,
                                                                      confirmation_prompt=True)
    with opened(data) as app:
        user = app.services.admin.add_user(LOCAL_OPERATOR, username, role, password, site, display_name)
        emit({"id": user.id, "username": user.username, "role": user.role, "site_ids": user.site_ids})


@user_app.command("list")
def user_list(data: DataDir) -> None:
    """List staff users (never passwords)."""
    with opened(data) as app:
        emit([{"username": u.username, "role": u.role, "site_ids": u.site_ids, "active": u.active}
              for u in app.services.admin.users(LOCAL_OPERATOR)])
