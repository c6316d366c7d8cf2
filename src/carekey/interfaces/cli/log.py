"""``carekey log head|verify|check-receipt``: the transparency log for auditors and for anyone with a receipt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from carekey.audit.proofs import verify_access_receipt
from carekey.audit.sth import SignedTreeHead
from carekey.interfaces.cli.common import (
    DataDir,
    PurposeOpt,
    UserOpt,
    emit,
    handled,
    opened,
    session,
    settings_for,
)

log_app = typer.Typer(help="The transparency log: signed tree heads, verification, receipts.", no_args_is_help=True)
EXIT_TAMPERED = 8


def read_heads(path: Path) -> list[SignedTreeHead]:
    """Signed tree heads saved one JSON object per line (as written by ``carekey log head --save``)."""
    heads = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                data = json.loads(line)
                heads.append(SignedTreeHead.from_dict(data.get("signed_tree_head", data)))
            except (ValueError, AttributeError) as err:
                typer.echo(f"error: {path}:{n}: not a signed tree head ({err})", err=True)
                raise typer.Exit(3) from None
    return heads


@log_app.command("rotate-key")
def rotate_key(data: DataDir,
               old_key: Annotated[Path | None, typer.Option(
                   "--old-key", help="the old log key, when the configured file already holds its replacement")]
               = None) -> None:
    """Replace the log's signing key on the record: the old and the new key sign each other, the rotation is
    logged, heads signed before stay verifiable. Needs the old key: a lost key cannot be replaced silently."""
    from carekey import bootstrap

    with handled():
        emit(bootstrap.rotate_log_key(settings_for(data), old_key))


@log_app.command("head")
def head(data: DataDir,
         save: Annotated[Path | None, typer.Option(help="append the head to this file (JSON lines), to keep "
                                                  "outside carekey for later `log verify --heads`")] = None) -> None:
    """Sign (if the log grew) and print the latest tree head with the log's public key."""
    with opened(data) as app:
        published = app.services.transparency.tree_head()
    if save is not None:
        with save.open("a") as fh:
            fh.write(published.sth.to_json() + "\n")
    emit(published.to_dict())


@log_app.command("verify")
def verify(data: DataDir, user: UserOpt,
           heads: Annotated[Path | None, typer.Option(help="signed tree heads saved outside carekey (JSON lines)")]
           = None, purpose: PurposeOpt = "audit") -> None:
    """Auditor: check every stored entry against the Merkle tree, the signed tree heads (stored and --heads)
    and its leaf commitment. Prints the report; exit 8 when anything was modified, removed, inserted or
    reordered."""
    saved = read_heads(heads) if heads else []
    with session(data, user) as (app, actor):
        report = app.services.audit.verify(actor, purpose, saved)
    emit(report.to_dict())
    if not report.ok:
        typer.echo(f"log verification FAILED: {len(report.problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_TAMPERED)
    typer.echo(f"log verified: {report.entries} entries, {report.heads_checked} signed tree heads", err=True)


@log_app.command("check-receipt")
def check_receipt(receipt: Annotated[Path, typer.Argument(help="one access as shown by GET /patient/accesses or "
                                                          "`carekey patient accesses` (JSON)")],
                  public_key: Annotated[str, typer.Option(help="the log's public key (hex), from "
                                                          "GET /transparency/tree-head")]) -> None:
    """Check an access receipt offline with the public key only (no data folder, no server)."""
    with handled():
        data = json.loads(receipt.read_text())
        ok = verify_access_receipt(data, bytes.fromhex(public_key))
    event = data.get("event", {})
    typer.echo(f"{'VALID' if ok else 'INVALID'}: entry {data.get('seq')} ({event.get('role')} {event.get('action')} "
               f"for {event.get('purpose')} at {event.get('at')}, {event.get('outcome')})")
    if not ok:
        raise typer.Exit(EXIT_TAMPERED)
