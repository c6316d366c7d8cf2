"""``carekey log head|verify|check-receipt|witness|adopt-heads``: the transparency log for auditors, witnesses
and anyone with a receipt."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from carekey.audit.promise import EntryPromise
from carekey.audit.proofs import verify_access_receipt
from carekey.audit.sth import SignedTreeHead
from carekey.audit.witness import judge
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


def read_promises(path: Path) -> list[EntryPromise]:
    """Entry promises saved one JSON object per line (a promise, or an access view holding one)."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                data = json.loads(line)
                out.append(EntryPromise.from_dict(data.get("promise", data)))
            except (ValueError, AttributeError) as err:
                typer.echo(f"error: {path}:{n}: not an entry promise ({err})", err=True)
                raise typer.Exit(3) from None
    return out


@log_app.command("rotate-key")
def rotate_key(
    data: DataDir,
    old_key: Annotated[
        Path | None,
        typer.Option("--old-key", help="the old log key, when the configured file already holds its replacement"),
    ] = None,
) -> None:
    """Replace the log's signing key on the record: the old and the new key sign each other, the rotation is
    logged, heads signed before stay verifiable. Needs the old key: a lost key cannot be replaced silently."""
    from carekey import bootstrap

    with handled():
        emit(bootstrap.rotate_log_key(settings_for(data), old_key))


@log_app.command("head")
def head(
    data: DataDir,
    save: Annotated[
        Path | None,
        typer.Option(
            help="append the head to this file (JSON lines), to keep outside carekey for later `log verify --heads`"
        ),
    ] = None,
) -> None:
    """Sign (if the log grew) and print the latest tree head with the log's public key."""
    with opened(data) as app:
        published = app.services.transparency.tree_head()
    if save is not None:
        with save.open("a") as fh:
            fh.write(published.sth.to_json() + "\n")
    emit(published.to_dict())


@log_app.command("verify")
def verify(
    data: DataDir,
    user: UserOpt,
    heads: Annotated[
        Path | None,
        typer.Option(help="signed tree heads saved outside carekey (JSON lines, e.g. a witness's --out file)"),
    ] = None,
    heads_file: Annotated[
        bool,
        typer.Option(help="also check the data folder's heads file (carekey.heads); a missing heads file is a failure"),
    ] = True,
    promises: Annotated[
        Path | None,
        typer.Option(
            help="entry promises saved outside carekey (JSON lines, "
            "as shown with each access): each must be in the log, in a "
            "signed head within its delay"
        ),
    ] = None,
    purpose: PurposeOpt = "audit",
) -> None:
    """Auditor: integrate every committed entry, then check every stored entry against the Merkle tree, the signed
    tree heads (in the database, in the heads file outside it, and --heads), its leaf commitment and its entry
    promise (in a signed head within the maximum merge delay). Prints the report; exit 8 when anything was
    modified, removed, inserted or reordered, a promise was broken, or the heads file is missing."""
    saved = read_heads(heads) if heads else []
    kept = read_promises(promises) if promises else []
    with session(data, user) as (app, actor):
        report = app.services.audit.verify(actor, purpose, saved, heads_file, kept)
    emit(report.to_dict())
    if not report.ok:
        typer.echo(f"log verification FAILED: {len(report.problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_TAMPERED)
    typer.echo(f"log verified: {report.entries} entries, {report.heads_checked} signed tree heads", err=True)


@log_app.command("check-receipt")
def check_receipt(
    receipt: Annotated[
        Path, typer.Argument(help="one access as shown by GET /patient/accesses or `carekey patient accesses` (JSON)")
    ],
    public_key: Annotated[str, typer.Option(help="the log's public key (hex), from GET /transparency/tree-head")],
) -> None:
    """Check an access receipt offline with the public key only (no data folder, no server)."""
    with handled():
        data = json.loads(receipt.read_text())
        ok = verify_access_receipt(data, bytes.fromhex(public_key))
    event = data.get("event", {})
    typer.echo(
        f"{'VALID' if ok else 'INVALID'}: entry {data.get('seq')} ({event.get('role')} {event.get('action')} "
        f"for {event.get('purpose')} at {event.get('at')}, {event.get('outcome')})"
    )
    if not ok:
        raise typer.Exit(EXIT_TAMPERED)


@log_app.command("adopt-heads")
def adopt_heads(data: DataDir) -> None:
    """Create the heads file of a data folder older than it, from the signed tree heads in the database (refused
    when the heads file exists). Only for upgrades: a heads file that went missing is restored from a backup."""
    with opened(data) as app:
        n = app.services.transparency.adopt_heads()
    typer.echo(f"heads file created with {n} signed tree heads", err=True)


def http_client(url: str) -> httpx.Client:
    """The witness's HTTP client (tests put an in-process client here)."""
    return httpx.Client(base_url=url.rstrip("/"), timeout=30.0, follow_redirects=False)


def _held(out: Path) -> tuple[SignedTreeHead | None, str | None]:
    """The last head the witness accepted and the log key it pinned (from its --out file)."""
    if not out.exists():
        return None, None
    last, key = None, None
    for n, line in enumerate(out.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            sth = SignedTreeHead.from_dict(obj["signed_tree_head"])
        except (ValueError, KeyError, TypeError) as err:
            typer.echo(f"error: {out}:{n}: not a witnessed head ({err})", err=True)
            raise typer.Exit(3) from None
        key = key or obj.get("public_key")
        if last is None or sth.size >= last.size:
            last = sth
    return last, key


@log_app.command("witness")
def witness(
    url: Annotated[str, typer.Argument(help="the carekey server, e.g. https://registry.example.org")],
    out: Annotated[Path, typer.Option("--out", help="heads this witness accepted (JSON lines; created)")],
    public_key: Annotated[
        str | None,
        typer.Option(
            help="the log's public key (hex) to pin; default: the key in --out, else the server's (trust on first use)"
        ),
    ] = None,
) -> None:
    """Run on another machine, on a schedule: fetch the server's current signed tree head, check its signature
    with the pinned key and a consistency proof from the last head held in --out, and append it there. A head
    that does not extend the one held (a cut or rewritten log) is refused: exit 8, --out unchanged."""
    held, pinned = _held(out)
    if public_key and pinned and public_key.lower() != pinned.lower():
        typer.echo(f"error: --public-key differs from the key pinned in {out}", err=True)
        raise typer.Exit(3)
    try:
        with http_client(url) as client:
            r = client.get("/transparency/tree-head")
            r.raise_for_status()
            published = r.json()
            candidate = SignedTreeHead.from_dict(published["signed_tree_head"])
            key_hex = str(public_key or pinned or published["public_key"])

            def proof(first: int, second: int) -> list[bytes]:
                p = client.get("/transparency/consistency", params={"first": first, "second": second})
                if p.status_code != 200:
                    raise ValueError(f"the server answered {p.status_code}")
                return [base64.b64decode(x, validate=True) for x in p.json()["consistency_path"]]

            verdict = judge(held, bytes.fromhex(key_hex), candidate, proof)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
        typer.echo(f"error: cannot fetch a signed tree head from {url}: {err}", err=True)
        raise typer.Exit(1) from None
    if not verdict.accepted:
        typer.echo(f"REFUSED: {verdict.reason}", err=True)
        raise typer.Exit(EXIT_TAMPERED)
    if verdict.new:
        line = {
            "signed_tree_head": candidate.to_dict(),
            "public_key": key_hex,
            "url": url,
            "witnessed_at": datetime.now(UTC).isoformat(),
        }
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    typer.echo(f"ACCEPTED: {verdict.reason}", err=True)
