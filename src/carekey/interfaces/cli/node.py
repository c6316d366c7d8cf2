"""``carekey node ...``: site nodes that work offline and sync with the central registry (issue 19,
docs/sync.md). On the laptop: ``init``, ``sync``, ``status``. On the central registry (admins, each action
logged): ``list``, ``approve``, ``confirm`` (a second admin), ``revoke``, ``stale``."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from carekey.bootstrap import node as node_setup
from carekey.interfaces.cli.common import (
    DataDir,
    PurposeOpt,
    UserOpt,
    VisitOpt,
    emit,
    handled,
    opened,
    session,
    settings_for,
)
from carekey.services.sync_node import NodeSync

node_app = typer.Typer(
    help="Site nodes: offline screening that syncs with the central registry (docs/sync.md).", no_args_is_help=True
)

PassphraseOpt = Annotated[
    str | None,
    typer.Option(
        "--passphrase",
        envvar="CAREKEY_NODE_PASSPHRASE",
        help="Passphrase sealing the node key (default: CAREKEY_NODE_PASSPHRASE, else a prompt).",
    ),
]


def _passphrase(given: str | None, confirm: bool = False) -> str:
    return (
        given
        or os.environ.get("CAREKEY_NODE_PASSPHRASE")
        or typer.prompt("node passphrase", hide_input=True, confirmation_prompt=confirm)
    )


@node_app.command("init")
def init(
    data: DataDir,
    central: Annotated[str, typer.Option("--central", help="URL of the central registry")],
    site: Annotated[str, typer.Option("--site", help="the site this node serves")],
    passphrase: PassphraseOpt = None,
) -> None:
    """Make the data folder a site node for SITE and register it with the central registry. The node syncs
    nothing until a central admin approved it with the code printed here and a second admin confirmed it."""
    with handled():
        settings = settings_for(data)
        out = node_setup.initialize_node(settings, central, site, _passphrase(passphrase, confirm=True))
    emit(out)
    typer.echo(
        f"give the code {out['code']} to a central admin: carekey node approve {out['node_id']} --code {out['code']}; "
        "then a second admin: carekey node confirm " + str(out["node_id"]),
        err=True,
    )


@node_app.command("sync")
def sync(data: DataDir, passphrase: PassphraseOpt = None) -> None:
    """Push the node's changes and log, pull its catchment's changes (resumable: run it again after a cut)."""
    with handled():
        link = node_setup.node_link(settings_for(data), _passphrase(passphrase))
    with opened(data) as app:
        emit(asdict(node_setup.sync_node(app, link)))  # type: ignore[call-overload]


@node_app.command("status")
def status(data: DataDir) -> None:
    """The node's id, site, central registry, and its sync progress (no personal data)."""
    with handled():
        config = node_setup.node_config(settings_for(data))
    with opened(data) as app, app.database.uow(read_only=True) as uow:
        state = uow.sync.node_state()
        pending = len(uow.sync.outbox())
    emit(config | {"state": asdict(state) if state else None, "unacknowledged_batches": pending})


@node_app.command("list")
def list_nodes(data: DataDir, user: UserOpt) -> None:
    """Central: the registered nodes, their status, flags and last sync (logged admin action)."""
    with session(data, user) as (app, actor):
        emit(
            [
                {
                    "id": n.id,
                    "site_id": n.site_id,
                    "status": n.status,
                    "approved_by": n.approved_by,
                    "confirmed_by": n.confirmed_by,
                    "flag": n.flag,
                    "last_seq": n.last_seq,
                    "log_size": n.log_size,
                    "last_sync_at": n.last_sync_at,
                }
                for n in app.services.sync.nodes(actor)
            ]
        )


@node_app.command("approve")
def approve(
    data: DataDir,
    node_id: Annotated[str, typer.Argument(help="the node id printed by carekey node init")],
    code: Annotated[str, typer.Option("--code", help="the one-time code shown on the node")],
    user: UserOpt,
) -> None:
    """Central, first admin: approve a registered node (a second admin then confirms it)."""
    with session(data, user) as (app, actor):
        node = app.services.sync.approve(actor, node_id, code)
        emit({"id": node.id, "status": node.status, "approved_by": node.approved_by})


@node_app.command("confirm")
def confirm(data: DataDir, node_id: Annotated[str, typer.Argument(help="node id")], user: UserOpt) -> None:
    """Central, second admin (not the approver): the node may sync from now on."""
    with session(data, user) as (app, actor):
        node = app.services.sync.confirm(actor, node_id)
        emit({"id": node.id, "status": node.status, "confirmed_by": node.confirmed_by})


@node_app.command("revoke")
def revoke(data: DataDir, node_id: Annotated[str, typer.Argument(help="node id")], user: UserOpt) -> None:
    """Central: refuse every later request of this node (a lost or stolen laptop)."""
    with session(data, user) as (app, actor):
        node = app.services.sync.revoke(actor, node_id)
        emit({"id": node.id, "status": node.status})


@node_app.command("stale")
def stale(data: DataDir, user: UserOpt) -> None:
    """Central: nodes that held a person erased since their last sync (where the data may still live)."""
    with session(data, user) as (app, actor):
        emit(app.services.sync.stale(actor))


@node_app.command("capture")
def capture(
    data: DataDir,
    person: Annotated[str, typer.Option("--person", help="the person's id (found or enrolled in this visit)")],
    modality: Annotated[str, typer.Option("--modality", help="fingerprint or iris")],
    position: Annotated[str, typer.Option("--position", help="finger or eye, e.g. right_index, left")],
    image: Annotated[Path, typer.Argument(help="the captured image file")],
    visit: VisitOpt,
    user: UserOpt,
    purpose: PurposeOpt = "biometric_identification",
) -> None:
    """On the node, offline: a capture sealed at once to the central matcher's key (HPKE), received centrally at
    the next sync and kept sealed for central enrollment. Needs the person's biometric_identification consent; the
    image is never kept in the clear."""
    with handled():
        config = node_setup.node_config(settings_for(data))
    with session(data, user) as (app, actor):
        sync = NodeSync(app.services.deps, str(config["node_id"]))
        emit({"capture_id": sync.capture(actor, visit, purpose, person, modality, position, image.read_bytes())})


@node_app.command("captures")
def captures(data: DataDir, user: UserOpt) -> None:
    """Central: offline captures received from nodes, still sealed, waiting for enrollment (logged)."""
    with session(data, user) as (app, actor):
        emit(app.services.sync.captures(actor))


@node_app.command("conflicts")
def conflicts(data: DataDir, user: UserOpt) -> None:
    """The review list: demographic fields changed on a node and centrally since their last sync (the central
    value was kept). Person codes and field names only; each is also shown at the person's next visit (logged)."""
    with session(data, user) as (app, actor):
        emit(app.services.tasks.conflicts(actor))
