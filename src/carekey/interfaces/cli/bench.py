"""``carekey bench ...``: accuracy and search benchmarks (print a table, write JSON).

The benchmark code (``carekey.bench``) and its dependencies (the ``bench`` extra: matplotlib, reedsolo) are
loaded only here, inside each command, so ``carekey serve`` and ``carekey --help`` run without them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from carekey.interfaces.cli.progress import track

app = typer.Typer(
    help="Benchmarks: accuracy (EER, FNMR at FMR, DET plot), 1:N search speed, transparency log. "
    "Needs the bench extra: pip install 'carekey[bench]'.",
    no_args_is_help=True,
)

BENCH_EXTRA = ("matplotlib", "reedsolo")  # the modules of the `bench` extra (pyproject.toml)


def missing_bench_modules() -> list[str]:
    """The modules of the ``bench`` extra that are not installed."""
    return [name for name in BENCH_EXTRA if importlib.util.find_spec(name) is None]


@app.callback()
def _require_bench_extra() -> None:
    missing = missing_bench_modules()
    if missing:
        typer.echo(
            f"carekey bench needs the bench extra ({', '.join(missing)} not installed): pip install 'carekey[bench]'",
            err=True,
        )
        raise typer.Exit(2)


Modality = Annotated[str, typer.Option(help="fingerprint or iris")]


@app.command("accuracy")
def accuracy_cmd(
    dataset: Annotated[
        list[Path],
        typer.Option(
            exists=True,
            file_okay=False,
            help="folder of <identity>_<sample>.<ext> images, or a folder of such folders; repeat for several sets",
        ),
    ],
    modality: Annotated[
        str | None, typer.Option(help="fingerprint or iris (default: read from each set's path)")
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/accuracy.json"),
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            help="reference system run side by side, e.g. nbis (fingerprint) or plain-hd (iris); several sets: "
            "default one per modality, 'none' for none"
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="DET plot (PNG) of all systems; with several sets, a folder of one plot per set")
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(help="several sets: also write the table as Markdown (default: the JSON path with .md)"),
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, help="several sets: how many sets to run at once (processes)")] = 1,
) -> None:
    """Score every genuine and impostor pair of each data set; EER, FNMR at FMR 1 % / 0.1 %, FTE, baseline.

    One set: the single-set report (unchanged keys). Several sets, or a folder of sets: one table, per
    set and the mean per modality, with the baseline run on the same images and issue 12's targets.

    Example: carekey bench accuracy --dataset ../shared/data/fingerprint --dataset ../shared/data/iris
    --out bench/results/accuracy_all.json
    """
    from carekey.bench import accuracy_sets, modalities

    try:
        sets = accuracy_sets.expand(dataset, modality)
        if modality is not None:
            modalities.load(modality)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset / --modality") from exc
    if len(sets) == 1 and len(dataset) == 1 and sets[0].path == dataset[0]:
        _single_set(sets[0].modality, dataset[0], out, baseline[0] if baseline else None, plot)
        return
    wanted = None if baseline is None else [b for b in baseline if b != "none"]
    md = markdown or out.with_suffix(".md")
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(report: dict[str, Any]) -> None:  # after every set: a stopped run keeps its finished rows
        out.write_text(json.dumps(report, indent=2))
        md.write_text(accuracy_sets.markdown(report))

    try:
        report = accuracy_sets.run(sets, wanted, track, plot_dir=plot, jobs=jobs, on_set=write)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--baseline") from exc
    write(report)
    typer.echo(accuracy_sets.table(report))
    typer.echo(f"report written to {out} and {md}")


def _single_set(modality: str, dataset: Path, out: Path, baseline: str | None, plot: Path | None) -> None:
    from carekey.bench import accuracy, modalities, plots

    mod = modalities.load(modality)
    ours = accuracy.run(mod.modality(), dataset, track)
    report = ours.report()
    rows = {"carekey": report}
    systems = {"carekey": (ours.genuine, ours.impostor)}
    if baseline and baseline != "none":
        ref = accuracy.run(mod.baseline(baseline), dataset, track)
        report["baseline"] = ref.report() | {"system": baseline}
        rows[baseline] = report["baseline"]
        systems[baseline] = (ref.genuine, ref.impostor)
        report["eer_ratio_to_baseline"] = (
            report["eer"] / report["baseline"]["eer"] if report["baseline"]["eer"] else None
        )
    if plot:
        plots.det_plot(systems, plot, f"{modality}, {dataset.name}")
        report["det_plot"] = str(plot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    typer.echo(accuracy.table(rows))
    typer.echo(f"report written to {out}")


@app.command("search")
def search_cmd(
    modality: Modality,
    gallery: Annotated[int, typer.Option(min=1, help="gallery size (templates)")] = 100_000,
    queries: Annotated[int, typer.Option(min=1, help="number of probe searches")] = 20,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/search.json"),
    protected: Annotated[
        bool,
        typer.Option(
            "--protected",
            help="also index the gallery in protected form (under a fresh program key) and report "
            "protected vs unprotected ms side by side, their ratio, top-1 hit rates and the "
            "agreement with the exhaustive protected search",
        ),
    ] = False,
    engine: Annotated[
        str, typer.Option(help="single (one process) or ray (the protected index sharded over Ray actors)")
    ] = "single",
    shards: Annotated[int, typer.Option(min=1, help="Ray shards (actors), with --engine ray")] = 4,
    ray_address: Annotated[
        str | None, typer.Option(help="an existing Ray cluster (default: start a local one)")
    ] = None,
    single_gallery: Annotated[
        int | None,
        typer.Option(min=1, help="with --engine ray: also time one process on the first N templates of the gallery"),
    ] = None,
    compare_fanout: Annotated[
        bool,
        typer.Option(
            "--compare-fanout",
            help="with --engine ray: every query also through the matcher's previous fan-out (ray.put, tuples), "
            "same run: fanout_overhead_ms_before",
        ),
    ] = False,
) -> None:
    """1:N search speed and top-1 hit rate over a large gallery (fingerprint: 100,000; iris: 1,000,000).

    Example: carekey bench search --modality iris --gallery 1000000 --queries 50 --protected
    --out bench/results/protection/search_iris.json

    Sharded: carekey bench search --modality iris --engine ray --shards 4 --gallery 2000000
    --single-gallery 1000000 --out bench/results/matcher/ray_search_iris_2m_4.json (needs the ray extra;
    --modality fingerprint too)"""
    if engine not in ("single", "ray"):
        raise typer.BadParameter("single or ray", param_hint="--engine")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            typer.echo("error: --engine ray needs the ray extra: pip install 'carekey[ray]'", err=True)
            raise typer.Exit(2) from None
        from carekey.bench import ray_search

        report = ray_search.run(modality, gallery, queries, shards, track, ray_address, single_gallery, compare_fanout)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        for key, value in report.items():
            typer.echo(f"{key.ljust(28)}  {value}")
        typer.echo(f"report written to {out}")
        return
    if protected:
        from carekey.bench import protected_search

        if modality not in protected_search.BENCHMARKS:
            raise typer.BadParameter(f"choose one of {', '.join(protected_search.BENCHMARKS)}", param_hint="--modality")
        report = protected_search.BENCHMARKS[modality](gallery=gallery, queries=queries, progress=track)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        typer.echo(protected_search.table(report))
        typer.echo(f"report written to {out}")
        return
    from carekey.bench import modalities

    mod = modalities.load(modality)
    report = mod.search_benchmark(gallery=gallery, queries=queries, progress=track)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    width = max(len(k) for k in report)
    for key, value in report.items():
        typer.echo(f"{key.ljust(width)}  {value:,.3f}" if isinstance(value, float) else f"{key.ljust(width)}  {value}")
    typer.echo(f"report written to {out}")


@app.command("service")
def service_cmd(
    modality: Annotated[str, typer.Option(help="fingerprint or iris")] = "fingerprint",
    gallery: Annotated[
        int, typer.Option(min=1, help="enrolled people (fingerprint: two fingers; iris: two eyes)")
    ] = 10_000,
    queries: Annotated[int, typer.Option(min=1, help="identifications through the service")] = 50,
    database_url: Annotated[
        str | None, typer.Option(help="database of the fresh data folder (default: SQLite)")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="the data folder to create (default: a temporary one)")] = None,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/service/service.json"),
) -> None:
    """1:N identification as the web UI gets it: through the service (policy, log, database, the matcher's gallery
    followed from the template feed), the index alone in the same run, start-up, memory, exam writes meanwhile.

    Example: nice -n 10 carekey bench service --modality fingerprint --gallery 100000 --queries 50
    --out bench/results/service/fingerprint_100k.json"""
    from carekey.interfaces.cli import bench_service as service

    if modality not in ("fingerprint", "iris"):
        raise typer.BadParameter("choose fingerprint or iris", param_hint="--modality")
    report = service.run(modality, gallery, queries, track, database_url, data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(service.table(report))


@app.command("protection")
def protection_cmd(
    modality: Modality,
    dataset: Annotated[
        Path, typer.Option(exists=True, file_okay=False, help="folder of <identity>_<sample>.<ext> images")
    ],
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/protection.json"),
    plot: Annotated[Path | None, typer.Option(help="DET plot (PNG): unprotected, protected, across keys")] = None,
    attacked: Annotated[int, typer.Option(min=0, help="templates given to the pre-image attack")] = 24,
    scheme: Annotated[str, typer.Option(help="iom (production) or fuzzy-commitment (iris prototype)")] = "iom",
) -> None:
    """Protected vs unprotected: EER / FNMR, unlinkability D<->sys across keys, pre-image attack, 1:N speed."""
    from carekey.bench import plots, protection

    if scheme not in ("iom", "fuzzy-commitment") or (scheme == "fuzzy-commitment" and modality != "iris"):
        raise typer.BadParameter(f"unknown scheme {scheme!r} for {modality} (iom; fuzzy-commitment for iris)")
    if scheme == "fuzzy-commitment":
        from carekey.bench import protection_fc  # the research prototype, same report and table shape

        report, systems = protection_fc.run(dataset, track)
        table = protection_fc.table
    else:
        report, systems = protection.run(modality, dataset, track, attacked=attacked)
        table = protection.table
    if plot:
        plots.det_plot(systems, plot, f"{modality} protection, {dataset.name}")
        report["det_plot"] = str(plot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    typer.echo(table(report))
    typer.echo(f"report written to {out}")


@app.command("log")
def log_cmd(
    entries: Annotated[int, typer.Option(min=1, help="log size to build")] = 1_000_000,
    probes: Annotated[int, typer.Option(min=1, help="proofs generated and verified")] = 1000,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/log.json"),
) -> None:
    """Transparency log: appends/s, inclusion and consistency proof generation/verification (median us)."""
    from carekey.bench import log as log_bench

    report = log_bench.run(entries=entries, probes=probes, progress=track)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    typer.echo(log_bench.table(report))
    typer.echo(f"report written to {out}")


@app.command("stats")
def stats_cmd(
    people: Annotated[int, typer.Option(min=1, help="people in the synthetic program")] = 5000,
    epsilon: Annotated[float, typer.Option(min=0.01, max=10, help="epsilon of one release")] = 1.0,
    districts: Annotated[int, typer.Option(min=1, max=50, help="districts (4: 40/30/20/10 % of people)")] = 4,
    runs: Annotated[int, typer.Option(min=1, help="releases per method, errors averaged")] = 20,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/stats/report.json"),
    plot: Annotated[Path | None, typer.Option(help="PNG of MAE and relative error per level")] = None,
) -> None:
    """DP statistics: flat vs hierarchical release, MAE and relative error per level against the true counts.

    Example: carekey bench stats --people 5000 --epsilon 1 --out bench/results/stats/report.json
    --plot bench/results/stats/report.png"""
    from carekey.bench import stats as stats_bench

    report = stats_bench.run(people, epsilon, districts, runs, progress=track)
    if plot:
        stats_bench.plot(report, plot)
        report["plot"] = str(plot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    typer.echo(stats_bench.table(report))
    typer.echo(f"report written to {out}")


@app.command("iris-contact-sheet")
def iris_contact_sheet_cmd(
    dataset: Annotated[Path, typer.Option(exists=True, file_okay=False, help="folder of eye images")],
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("bench/results/iris/contact_sheet.png"),
    sample: Annotated[int, typer.Option(min=1, help="images drawn, evenly spread over the set")] = 30,
    max_rejected: Annotated[int, typer.Option(min=0, help="rejected images drawn first, at most")] = 12,
    scan: Annotated[int | None, typer.Option(min=1, help="look for rejections in this many images only")] = None,
    failed_from: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="accuracy report (JSON, one set or several) of this set: its failed images are drawn first, "
            "and no other image is searched for rejections",
        ),
    ] = None,
) -> None:
    """Pupil and limbus drawn on a sample of a set, rejected captures first with the reason."""
    from carekey.bench import iris_sheet

    try:
        first = iris_sheet.failed_images(json.loads(failed_from.read_text()), dataset) if failed_from else None
        report = iris_sheet.contact_sheet(
            dataset, out, sample=sample, max_rejected=max_rejected, scan=scan, progress=track, first=first
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset / --failed-from") from exc
    typer.echo(json.dumps(report))
    typer.echo(f"contact sheet written to {out}")


@app.command("load")
def load_cmd(
    clients: Annotated[
        list[int],
        typer.Option(
            min=1,
            max=256,
            help="concurrent clients; repeat for several runs "
            "on the same server (e.g. --clients 1 --clients 8 --clients 32)",
        ),
    ],
    seconds: Annotated[float, typer.Option(min=0.1, max=600, help="duration of each operation")] = 10.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL URL (postgresql+psycopg://...) for a PostgreSQL run; default: SQLite in a fresh folder"
        ),
    ] = None,
    reset_database: Annotated[
        bool,
        typer.Option(
            help="drop carekey's tables in --database-url first (a previous run's); never on a database you keep"
        ),
    ] = False,
    operation: Annotated[
        list[str] | None,
        typer.Option(
            help="operations to run (default all): login, open_visit, lookup_card, lookup_name, read_exams, record_exam"
        ),
    ] = None,
    people: Annotated[int, typer.Option(min=1, help="demo people seeded besides the bench's own")] = 50,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="uvicorn worker processes of the server (serve --workers)")
    ] = 1,
    server_src: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="run init, demo and the server from this folder holding the carekey package "
            "(a checkout's src/, e.g. of main), to measure before and after a change with the same client",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON report to write")] = Path("bench/results/load.json"),
) -> None:
    """Loopback load test: a fresh server (uvicorn subprocess), N clients per operation; req/s, p50/p95/p99, 5xx.

    Example: carekey bench load --clients 1 --clients 8 --clients 32 --seconds 10 --out bench/results/load_sqlite.json
    """
    from carekey.bench import load

    try:
        report = load.run(
            clients, seconds, database_url, people, operation, server_src, reset_database, workers=workers
        )
    except (ValueError, RuntimeError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    load.write(report, out)
    typer.echo(load.table(report))
    typer.echo(f"report written to {out}")
