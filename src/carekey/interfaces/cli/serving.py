"""``carekey serve``: uvicorn with workers, trusted proxy headers, TLS files and the request log.

With one worker the app is built here; with several, each worker process builds its own from
``worker_app`` (the data folder travels in ``CAREKEY_DATA_DIR``; migrations ran once, here, before).
"""

from __future__ import annotations

import copy
import os
import socket
from pathlib import Path
from typing import Any

import typer

from carekey import bootstrap
from carekey.bootstrap import node as node_setup
from carekey.config import Settings
from carekey.interfaces.cli import workers


def log_config(request_log: bool) -> dict[str, Any]:
    """uvicorn's logging setup plus the ``carekey.requests`` logger (see ``carekey.interfaces.api.request_log``);
    uvicorn's own access log stays off: it writes raw paths, which carry visit and person ids."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    # the worker's process id tells the workers of ``--workers N`` apart (no personal data)
    config["formatters"]["requests"] = {"format": "%(asctime)s %(levelname)s [%(process)d] request %(message)s"}
    config["handlers"]["requests"] = {
        "formatter": "requests",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["carekey.requests"] = {
        "handlers": ["requests"],
        "propagate": False,
        "level": "INFO" if request_log else "WARNING",
    }
    return config


def unlock_node(data: Path) -> None:
    """On a site node folder, the node passphrase unlocks its key for the *Sync now* button and the periodic sync:
    taken from ``CAREKEY_NODE_PASSPHRASE`` or asked here (then handed to the workers in that variable, in this
    process's environment only), and checked before serving (a wrong one stops here, KeyCheckFailed). Without a
    terminal and without the variable the node serves with its key locked (``carekey node sync`` still works)."""
    import sys

    settings = Settings(data_dir=data)
    if not (settings.data_dir / node_setup.NODE_CONFIG).exists():
        return
    secret = os.environ.get("CAREKEY_NODE_PASSPHRASE")
    if not secret and sys.stdin.isatty():
        secret = typer.prompt("node passphrase (unlocks Sync now and the periodic sync)", hide_input=True)
    if not secret:
        typer.echo("site node served with its key locked: set CAREKEY_NODE_PASSPHRASE to sync from the UI", err=True)
        return
    node_setup.node_link(settings, secret)  # KeyCheckFailed on a wrong passphrase
    os.environ["CAREKEY_NODE_PASSPHRASE"] = secret


def worker_app():
    """The app of one worker process (uvicorn factory); the database was migrated by the parent."""
    from carekey.interfaces.api.app import create_app

    settings = Settings()
    return create_app(settings, built=bootstrap.build(settings, migrate=False))


def uvicorn_options(
    host: str,
    port: int,
    workers: int,
    trusted_proxies: list[str],
    tls_cert: Path | None,
    tls_key: Path | None,
    request_log: bool,
) -> dict[str, Any]:
    """Check the options and map them to uvicorn's (raises typer.BadParameter)."""
    if workers < 1:
        raise typer.BadParameter("--workers must be 1 or more")
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path} is not a readable file")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,
        "log_config": log_config(request_log),
        # X-Forwarded-For/-Proto are believed only from the listed proxies; none listed: never
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": ",".join(trusted_proxies) or None,
        "server_header": False,
    }
    if tls_cert is not None:
        options |= {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)}
    return options


def run(data: Path, options: dict[str, Any]) -> None:
    import uvicorn

    from carekey.interfaces.api.app import create_app

    settings = Settings(data_dir=data)
    if options["workers"] == 1:
        uvicorn.run(create_app(settings), **options)
        return
    bootstrap.build(settings).close()  # migrate once, before the workers start
    os.environ["CAREKEY_DATA_DIR"] = str(data.resolve())
    os.environ["CAREKEY_SERVE_WORKERS"] = str(options["workers"])  # the workers share the CPUs' hashing slots
    if not hasattr(socket, "SO_REUSEPORT"):  # not Linux / BSD: uvicorn's workers on one shared socket
        uvicorn.run("carekey.interfaces.cli.serving:worker_app", factory=True, **options)
        return
    workers.run(options)
