"""The ``carekey`` command.

Exit codes: 0 ok, 1 other error, 2 usage, 3 invalid input, 4 not authenticated, 5 forbidden (refused
purpose, denied, missing consent, budget exhausted), 6 not found, 7 conflict, 8 log verification failed,
9 refusing to start (a key file or the database is missing, replaced or corrupt: the message says what to
restore), 10 storage unavailable (disk full, I/O error, lost database connection; nothing was saved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carekey import __version__
from carekey.bootstrap import restrict_new_files
from carekey.interfaces.cli import admin, backup, bench, demo, fhir, keys, log, matcher, node, patient, records, stats
from carekey.interfaces.cli import biometrics as _biometrics  # noqa: F401  (person capture / identify / same-as)
from carekey.interfaces.cli.common import DataDir, emit, handled, opened, settings_for

app = typer.Typer(help="carekey: consent-first registry for community health screening.", no_args_is_help=True)
app.add_typer(bench.app, name="bench")
app.add_typer(admin.program_app, name="program")
app.add_typer(admin.site_app, name="site")
app.add_typer(admin.user_app, name="user")
app.add_typer(records.visit_app, name="visit")
app.add_typer(records.person_app, name="person")
app.add_typer(records.consent_app, name="consent")
app.add_typer(records.exam_app, name="exam")
app.add_typer(log.log_app, name="log")
app.add_typer(patient.patient_app, name="patient")
app.add_typer(stats.stats_app, name="stats")
app.add_typer(stats.retention_app, name="retention")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(fhir.fhir_app, name="fhir")
app.add_typer(backup.backup_app, name="backup")
app.add_typer(matcher.matcher_app, name="matcher")
app.add_typer(node.node_app, name="node")
app.command("restore")(backup.restore)
transparency_app = typer.Typer(help="Public transparency figures.", no_args_is_help=True)
app.add_typer(transparency_app, name="transparency")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"carekey {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """carekey: consent-first registry for community health screening.

    Start with `carekey init`, then `carekey demo` and `carekey serve`. Every command takes `--data DIR`
    (default: $CAREKEY_DATA_DIR, else ./var).
    Exit codes: 3 invalid input, 4 not authenticated, 5 forbidden, 6 not found, 7 conflict, 8 log tampered,
    9 refusing to start (keys and database do not match), 10 storage unavailable.
    """
    restrict_new_files()  # every file a command creates (database, -wal, -shm, keys, exports) is 0600


@app.command()
def init(
    data: DataDir,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="succeed quietly if already initialized")] = False,
) -> None:
    """Create the data folder: key file (mode 0600), key store, and the migrated database."""
    from carekey import bootstrap

    with handled():
        settings = settings_for(data)
        created = bootstrap.initialize(settings, if_missing=if_missing)
    key_file = settings.resolved_key_file()
    typer.echo(f"initialized {data} (key file {key_file})" if created else f"{data} already initialized; migrated")


@app.command()
def serve(
    data: DataDir,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (each opens the data folder)")] = 1,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="address of a reverse proxy whose X-Forwarded-For/-Proto headers are "
            "believed (repeat; none: the headers are ignored)",
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate chain (PEM) to serve https")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM) of --tls-cert")] = None,
    request_log: Annotated[
        bool,
        typer.Option(help="log each request as method, route template, status, duration (no path, no personal data)"),
    ] = True,
) -> None:
    """Serve the web UI (at /) and the API (OpenAPI docs at /docs) on one port."""
    from carekey.interfaces.cli import serving

    options = serving.uvicorn_options(host, port, workers, trusted_proxy or [], tls_cert, tls_key, request_log)
    scheme = "https" if tls_cert else "http"
    typer.echo(
        f"carekey {__version__} serving {data} with {workers} worker(s): web UI {scheme}://{host}:{port}/ "
        f"· API docs {scheme}://{host}:{port}/docs"
    )
    with handled():
        serving.unlock_node(data)
        serving.run(data, options)


@app.command("demo")
def demo_cmd(
    data: DataDir,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="do nothing if the data folder has data")] = False,
    people: Annotated[int, typer.Option(help="synthetic people to enroll")] = 200,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Seed a demo: a program, two sites, one user per role (passwords printed), synthetic people with exams."""
    with handled():
        demo.faker_class()  # the demo extra, checked before anything is written
    with opened(data) as built:
        svc = built.services
        if not svc.admin.is_empty():
            if if_empty:
                typer.echo(f"{data} already has data; demo not seeded")
                return
            typer.echo(f"{data} already has data; use a fresh data folder", err=True)
            raise typer.Exit(7)
        users, actors = demo.seed_program(svc)
        patients: dict[str, str] = {}
        count = demo.seed_people(svc, actors, people, seed, patients)
        path = demo.write_credentials(data, users, patients)
        svc.transparency.tree_head()  # publish a signed tree head over the seeded log
    typer.echo(f"demo program 'demo': sites north and south, {count} people enrolled with exams")
    typer.echo("demo users (also in " + str(path) + ", mode 0600):")
    for u in users:
        typer.echo(f"  {u.username:<16} {u.role:<16} password: {u.password}")
    for card, pin in patients.items():
        typer.echo(f"  demo patient: card {card}, PIN {pin} (carekey patient ... / POST /patient/token)")


@transparency_app.command("refusals")
def refusals(data: DataDir, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Refused requests by purpose and month (public figures)."""
    with opened(data) as built:
        rows = built.services.transparency.refusals()
    if as_json:
        emit(rows)
        return
    typer.echo(f"{'month':<8} {'purpose':<22} {'refused':>7}")
    for r in rows:
        typer.echo(f"{r.month:<8} {r.purpose:<22} {r.count:>7}")
    if not rows:
        typer.echo("(no refused requests)")
