"""``carekey matcher ...``: the biometric matcher as its own process (issue 15).

- ``init``: move a registry's biometric secret into a matcher folder (its own key file, 0600), with the registry's
  log public key and a shared channel credential; the registry's key file keeps only the key version.
- ``serve``: run the matcher (HTTP on loopback / a host, or a Unix socket); it builds its gallery from the
  database's template feed and admits only requests carrying a valid log receipt.
- ``rotate-key``: a fresh biometric secret under the next key version (restart ``serve``, then run
  ``carekey keys rotate-biometric --renew`` on the registry: it adopts the version and renews kept images through
  the matcher);
- ``receipts``: the entry promises of every receipt it accepted, one JSON a line, for
  ``carekey log verify --promises``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from carekey.bootstrap import matcher as matcher_setup
from carekey.interfaces.cli.common import DataDir, emit, handled, settings_for

matcher_app = typer.Typer(help="The biometric matcher as its own service (holds the biometric secret).")
MatcherDir = Annotated[Path, typer.Option("--matcher-data", help="The matcher's own folder (keys, ledger).")]


@matcher_app.command("init")
def init(
    data: DataDir,
    matcher_data: MatcherDir,
    url: Annotated[str, typer.Option(help="where the registry will reach the matcher")] = "http://127.0.0.1:8100",
    max_receipt_age: Annotated[int, typer.Option(help="seconds a log receipt stays usable")] = 60,
) -> None:
    """Move the biometric secret of the registry at --data into a new matcher folder at --matcher-data."""
    with handled():
        emit(matcher_setup.initialize_matcher(settings_for(data), matcher_data, url, max_receipt_age))


@matcher_app.command("serve")
def serve(
    matcher_data: MatcherDir,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8100,
    socket: Annotated[Path | None, typer.Option(help="listen on this Unix socket instead of TCP")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="the registry's database (template feed); default: the one init recorded")
    ] = None,
    max_receipt_age: Annotated[int | None, typer.Option(help="seconds a log receipt stays usable")] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM): serve https")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM) of --ssl-certfile")] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            help="shard the gallery over Ray actors: a cluster address, `auto` (a running cluster) or "
            "`local` (start one here); needs the `ray` extra"
        ),
    ] = None,
    shards: Annotated[int, typer.Option(min=1, help="Ray shards (actors) of the gallery, with --ray")] = 2,
) -> None:
    """Serve the matcher: build the gallery, then answer enroll / duplicate-search / identify / renew with receipts."""
    import uvicorn

    from carekey.interfaces.matcher.app import create_matcher_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with handled():
        built = matcher_setup.build_matcher(matcher_data, database_url, max_receipt_age, ray, shards if ray else 1)
    app = create_matcher_app(built.node, built.credential, on_startup=built.node.engine.build)
    where = f"unix:{socket}" if socket else f"{'https' if ssl_certfile else 'http'}://{host}:{port}"
    typer.echo(f"carekey matcher serving {matcher_data} at {where} (key version {built.node.engine.key_version})")
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            uds=str(socket) if socket else None,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
            log_level="info",
        )
    finally:
        built.close()


@matcher_app.command("rotate-key")
def rotate_key(matcher_data: MatcherDir) -> None:
    """Replace the matcher's biometric secret by a fresh one under the next key version (the old one is not kept).
    Restart `carekey matcher serve`, then run `carekey keys rotate-biometric` (with --renew) on the registry."""
    with handled():
        version = matcher_setup.rotate_matcher_key(matcher_data)
    emit(
        {
            "biometric_key_version": version,
            "next": "restart `carekey matcher serve`, then on the registry: `carekey keys rotate-biometric --renew`",
        }
    )


@matcher_app.command("receipts")
def receipts(matcher_data: MatcherDir) -> None:
    """Print the entry promise of every receipt the matcher accepted (for `carekey log verify --promises`)."""
    from carekey.storage.receipts import ReceiptLedger

    ledger = ReceiptLedger(matcher_data / matcher_setup.MATCHER_LEDGER)
    try:
        for line in ledger.promises():
            typer.echo(line)
    finally:
        ledger.close()
