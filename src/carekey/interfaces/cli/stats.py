"""``carekey stats release|budget`` (program managers) and ``carekey retention run`` (operator)."""

from __future__ import annotations

from typing import Annotated

import typer

from carekey.interfaces.cli.common import DataDir, PurposeOpt, UserOpt, emit, opened, session
from carekey.interfaces.cli.progress import track
from carekey.services.statistics import STATISTICS

stats_app = typer.Typer(help="Differentially private statistics within the privacy budget.", no_args_is_help=True)
retention_app = typer.Typer(help="Delete records past the retention period.", no_args_is_help=True)
ProgramOpt = Annotated[str | None, typer.Option("--program", help="program id (when there are several)")]


def _table(out: dict[str, object]) -> None:
    typer.echo(f"{out['statistic']}: epsilon {out['epsilon']:g}, {out['noise']}, "
               f"{out['confidence']:.0%} intervals; budget spent {out['epsilon_spent']:g} of "
               f"{out['epsilon_limit']:g}")
    typer.echo(f"{'district':<12} {'sex':<7} {'age':<6} {'outcome':<17} {'count':>6} {'95% CI':>11} {'share':>17}")
    for f in out["figures"]:  # type: ignore[attr-defined]
        c = f["count"]
        share = "" if f["share"] is None else f"{f['share']:.0%} [{f['share_low']:.0%}-{f['share_high']:.0%}]"
        ci = f"{c['ci95'][0]}-{c['ci95'][1]}"
        typer.echo(f"{f['district']:<12} {f['sex']:<7} {f['age_band']:<6} {f['outcome']:<17} {c['display']:>6} "
                   f"{ci:>11} {share:>17}")


@stats_app.command("release")
def release(data: DataDir, user: UserOpt,
            statistic: Annotated[str, typer.Option(help=f"one of {', '.join(STATISTICS)}")],
            epsilon: Annotated[float, typer.Option(help="privacy cost charged to the program's budget")],
            program: ProgramOpt = None, purpose: PurposeOpt = "aggregate_statistics",
            as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """One noisy release by district x sex x age band, each figure with its 95 % interval."""
    with session(data, user) as (app, actor):
        out = app.services.statistics.release(actor, purpose, statistic, epsilon, program)
    if as_json:
        emit(out)
    else:
        _table(out)


@stats_app.command("budget")
def budget(data: DataDir, user: UserOpt, program: ProgramOpt = None,
           purpose: PurposeOpt = "aggregate_statistics") -> None:
    """Privacy budget: limit, spent, remaining, past releases."""
    with session(data, user) as (app, actor):
        emit(app.services.statistics.budget(actor, purpose, program))


@retention_app.command("run")
def run(data: DataDir,
        years: Annotated[int | None, typer.Option(help="retention period (default: Settings.retention_years)")]
        = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be deleted; delete nothing")]
        = False) -> None:
    """Erase people not seen for the period (crypto-shredding), templates left without biometric consent and kept
    images left without image-retention consent; each deletion is logged."""
    with opened(data) as app:
        report = app.services.retention.run(years, dry_run, progress=None if dry_run else track)
        if not dry_run:
            app.services.transparency.tree_head()  # the deletions end with a signed tree head
    # counts only: a list of person ids would be a listing of the registry (each deletion is in the access log)
    def n(v: object) -> object:
        return len(v) if isinstance(v, list | tuple | set | frozenset) else v

    emit({"cutoff": report.cutoff, "dry_run": report.dry_run, "erased": n(report.erased),
          "templates_deleted": n(report.templates_deleted),
          "retired_templates_deleted": n(report.retired_templates_deleted),
          "images_deleted": n(report.images_deleted), "kept": n(report.kept)})
