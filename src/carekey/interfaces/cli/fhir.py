"""``carekey fhir queue|send``: the FHIR push queue (admin). Pushes themselves start when a visit closes."""

from __future__ import annotations

from typing import Annotated

import typer

from carekey.bootstrap import App
from carekey.interfaces.cli.common import DataDir, UserOpt, emit, session
from carekey.services.fhir_push import FhirPushService

fhir_app = typer.Typer(
    help="FHIR pushes to the sites' EMRs (ehr_sharing): the queue and its retries.", no_args_is_help=True
)


def _push(app: App) -> FhirPushService:
    """The push queue ``bootstrap.build`` always wires (``Services.fhir`` is optional for hand-built services)."""
    if app.services.fhir is None:
        raise RuntimeError("the FHIR push service is not wired")
    return app.services.fhir


@fhir_app.command("queue")
def queue(
    data: DataDir, user: UserOpt, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
) -> None:
    """Counts per site and status, then each pending or failed push (no person, no visit)."""
    with session(data, user) as (app, actor):
        view = _push(app).queue(actor)
    if as_json:
        emit({"counts": view.counts, "items": view.items})
        return
    typer.echo(f"{'site':<16} {'pending':>7} {'sent':>7} {'failed':>7} {'cancelled':>9}")
    for site, c in view.counts.items():
        typer.echo(f"{site:<16} {c['pending']:>7} {c['sent']:>7} {c['failed']:>7} {c['cancelled']:>9}")
    if not view.counts:
        typer.echo("(no push queued)")
    for i in view.items:
        nxt = i["next_attempt_at"].isoformat() if i["next_attempt_at"] else "-"
        typer.echo(
            f"{i['id']} {i['site_id']} {i['status']} attempts={i['attempts']} "
            f"last={i['last_status'] or '-'} next={nxt} {i['last_error']}"
        )


@fhir_app.command("send")
def send(
    data: DataDir,
    user: UserOpt,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="requeue failed pushes first")] = False,
) -> None:
    """Attempt every push that is due (run it from cron); each attempt is decided and logged."""
    with session(data, user) as (app, actor):
        done = _push(app).send_due(actor, retry_failed=retry_failed)
    counts: dict[str, int] = {}
    for row in done:
        counts[row.status] = counts.get(row.status, 0) + 1
    emit({"attempted": len(done), "by_status": counts})
