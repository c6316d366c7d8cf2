"""``carekey stats release|budget|releases|export|push|mapping init`` (program managers) and ``carekey retention run``
(operator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from carekey.interfaces.cli.common import DataDir, PurposeOpt, UserOpt, emit, opened, session
from carekey.interfaces.cli.progress import track
from carekey.services.statistics import STATISTICS
from carekey.stats.exports import to_csv
from carekey.stats.published import JsonObject

stats_app = typer.Typer(help="Differentially private statistics within the privacy budget.", no_args_is_help=True)
retention_app = typer.Typer(help="Delete records past the retention period.", no_args_is_help=True)
ProgramOpt = Annotated[str | None, typer.Option("--program", help="program id (when there are several)")]


PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="reporting period: 202611 / 2026-11 (month), "
        "2026Q4 / 2026-Q4 (quarter), 2026 (year); default the current quarter",
    ),
]
mapping_app = typer.Typer(
    help="The DHIS2 mapping file (data elements, org units, category option combos).", no_args_is_help=True
)
stats_app.add_typer(mapping_app, name="mapping")


def _table(out: JsonObject) -> None:
    typer.echo(
        f"{out['statistic']} for {out['period']} ({out['period_label']}), release {out['id']}: epsilon "
        f"{out['epsilon']:g}; budget of {out['period']} spent {out['epsilon_spent']:g} of "
        f"{out['epsilon_limit']:g}"
    )
    for note in out["notes"]:
        typer.echo(f"  {note}")
    typer.echo(f"{'level':<13} {'group':<28} {'people':>7} {'95% CI':>11} {'share':>17}")
    for f in out["figures"]:
        share = "" if f["share"] is None else f"{f['share']:.0%} [{f['share_ci95'][0]:.0%}-{f['share_ci95'][1]:.0%}]"
        ci = f"{f['count_ci95'][0]}-{f['count_ci95'][1]}"
        typer.echo(f"{f['level']:<13} {f['label'][:28]:<28} {f['count']:>7} {ci:>11} {share:>17}")


@stats_app.command("release")
def release(
    data: DataDir,
    user: UserOpt,
    statistic: Annotated[str, typer.Option(help=f"one of {', '.join(STATISTICS)}")],
    epsilon: Annotated[
        float, typer.Option(help="privacy cost charged to the period's budget (at most the per-release cap, default 1)")
    ],
    period: PeriodOpt = None,
    program: ProgramOpt = None,
    purpose: PurposeOpt = "aggregate_statistics",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One hierarchical release for a period: total, district, district x sex, district x age band."""
    with session(data, user) as (app, actor):
        out = app.services.statistics.release(actor, purpose, statistic, epsilon, program, period)
    if as_json:
        emit(out)
    else:
        _table(out)


@stats_app.command("budget")
def budget(
    data: DataDir,
    user: UserOpt,
    period: PeriodOpt = None,
    program: ProgramOpt = None,
    purpose: PurposeOpt = "aggregate_statistics",
) -> None:
    """Privacy budget of a period (limit, spent, remaining, its releases) and what is left in every open period."""
    with session(data, user) as (app, actor):
        emit(app.services.statistics.budget(actor, purpose, program, period))


@stats_app.command("releases")
def releases(
    data: DataDir, user: UserOpt, period: PeriodOpt = None, purpose: PurposeOpt = "aggregate_statistics"
) -> None:
    """Past releases of the program (id, period, statistic, epsilon, when released, when sent to DHIS2)."""
    with session(data, user) as (app, actor):
        rows = app.services.statistics.releases(actor, purpose, period)
    emit(
        [
            {
                "id": r.id,
                "period": r.period,
                "statistic": r.statistic,
                "epsilon": r.epsilon,
                "released_at": r.created_at,
                "sent_at": r.sent_at,
            }
            for r in rows
        ]
    )


@stats_app.command("export")
def export(
    data: DataDir,
    user: UserOpt,
    release_id: Annotated[str, typer.Option("--release", help="release id")],
    fmt: Annotated[str, typer.Option("--format", help="csv or dhis2 (dataValueSets JSON)")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default: print)")] = None,
    purpose: PurposeOpt = "aggregate_statistics",
) -> None:
    """A past release as CSV (every figure with its interval) or DHIS2 dataValueSets JSON."""
    if fmt not in ("csv", "dhis2"):
        typer.echo("error: --format is csv or dhis2", err=True)
        raise typer.Exit(3)
    with session(data, user) as (app, actor):
        svc = app.services.statistics
        text = (
            to_csv(svc.get_release(actor, purpose, release_id))
            if fmt == "csv"
            else json.dumps(svc.dhis2_payload(actor, purpose, release_id).body, indent=2)
        )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@stats_app.command("push")
def push(
    data: DataDir,
    user: UserOpt,
    period: Annotated[str, typer.Option("--period", help="period whose unsent releases are posted, e.g. 2026Q4")],
    purpose: PurposeOpt = "aggregate_statistics",
) -> None:
    """Post the period's unsent releases to DHIS2 (CAREKEY_DHIS2_URL; CAREKEY_DHIS2_TOKEN or
    CAREKEY_DHIS2_USERNAME + CAREKEY_DHIS2_PASSWORD) and show DHIS2's import summary. Nothing is marked as sent
    unless DHIS2 accepted every value."""
    with session(data, user) as (app, actor):
        r = app.services.statistics.push(actor, purpose, period)
    emit(
        {
            "period": r.period,
            "sent_values": r.sent_values,
            "skipped": r.skipped,
            "releases": r.releases,
            "import_summary": r.summary,
        }
    )


@mapping_app.command("init")
def mapping_init(
    data: DataDir,
    user: UserOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="default: the configured mapping file (<data>/dhis2-mapping.json)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
    purpose: PurposeOpt = "aggregate_statistics",
) -> None:
    """Write a DHIS2 mapping template for the program (its districts, statistics, sexes and age bands)."""
    with session(data, user) as (app, actor):
        template = app.services.statistics.mapping_template(actor, purpose)
        path = out or app.settings.resolved_dhis2_mapping_file()
    if path.exists() and not force:
        typer.echo(f"error: {path} exists (use --force to overwrite)", err=True)
        raise typer.Exit(7)
    path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {path}: fill in your DHIS2 UIDs")


@retention_app.command("run")
def run(
    data: DataDir,
    years: Annotated[int | None, typer.Option(help="retention period (default: Settings.retention_years)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be deleted; delete nothing")] = False,
) -> None:
    """Erase people not seen for the period (crypto-shredding), templates left without biometric consent and kept
    images left without image-retention consent; each deletion is logged."""
    with opened(data) as app:
        report = app.services.retention.run(years, dry_run, progress=None if dry_run else track)
        if not dry_run:
            app.services.transparency.tree_head()  # the deletions end with a signed tree head

    # counts only: a list of person ids would be a listing of the registry (each deletion is in the access log)
    def n(v: object) -> object:
        return len(v) if isinstance(v, list | tuple | set | frozenset) else v

    emit(
        {
            "cutoff": report.cutoff,
            "dry_run": report.dry_run,
            "erased": n(report.erased),
            "templates_deleted": n(report.templates_deleted),
            "retired_templates_deleted": n(report.retired_templates_deleted),
            "images_deleted": n(report.images_deleted),
            "kept": n(report.kept),
        }
    )
