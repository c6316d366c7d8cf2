"""One accuracy report over several data sets: per set EER, FNMR at FMR 1 % / 0.1 %, FTE, the
baseline run side by side on the same images, and the mean per modality.

A data set is a folder of ``<identity>_<sample>.<ext>`` images (``carekey.bench.accuracy``). A folder
given without images of its own is a folder of sets: every folder below it that holds images is one
set (e.g. ``../shared/data/fingerprint`` -> fvc2000/DB2_B, fvc2002/DB1_B, ..., uareu). The modality of
a set is the one asked for, or else read from its path (a folder named ``fingerprint`` or ``iris``).
Targets (issue 12) are checked and printed with the table, never used to change anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carekey.bench import accuracy, modalities, plots

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]

# Per modality: a default baseline, and the targets of issue 12 (checked, reported; nothing tuned to them)
DEFAULT_BASELINE = {"fingerprint": "nbis", "iris": "plain-hd"}
TARGETS = {
    "fingerprint": {"max_eer_ratio_to_baseline_every_set": 0.5, "max_mean_eer": 0.02},
    "iris": {"max_eer_every_set": 0.015, "max_fte_share_every_set": 0.02},
}


@dataclass(frozen=True)
class DataSet:
    label: str
    path: Path
    modality: str


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in accuracy.IMAGE_SUFFIXES and "_" in p.stem for p in folder.iterdir() if p.is_file())


def _modality_of(path: Path, asked: str | None) -> str:
    if asked:
        return asked
    named = [part for part in reversed(path.resolve().parts) if part in modalities.MODALITIES]
    if not named:
        raise ValueError(f"{path}: cannot tell the modality from the path; pass --modality")
    return named[0]


def expand(folders: Iterable[Path], modality: str | None = None) -> list[DataSet]:
    """The data sets named by ``folders`` (sets, or folders of sets), in the order given, then by path."""
    found: list[DataSet] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"{folder}: not a folder")
        if _has_images(folder):
            sets = [folder]
            root = folder.resolve().parent.parent  # labelled "<parent>/<name>", e.g. fvc2002/DB1_B
        else:
            root = folder.resolve()
            sets = sorted(d for d in folder.rglob("*") if d.is_dir() and _has_images(d))
            if not sets:
                raise ValueError(f"{folder}: no <identity>_<sample> images in it or below it")
        for path in sets:
            label = path.resolve().relative_to(root).as_posix()
            found.append(DataSet(label, path, _modality_of(path, modality)))
    labels = [s.label for s in found]
    if len(set(labels)) != len(labels):
        raise ValueError(f"a data set is named twice: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))}")
    return found


def run(
    sets: list[DataSet],
    baselines: Iterable[str] | None = None,
    progress: Progress | None = None,
    plot_dir: Path | None = None,
    jobs: int = 1,
    on_set: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every set through its modality and through the first of ``baselines`` that its modality
    knows (None: the modality's DEFAULT_BASELINE; empty: none). Returns the full report.

    ``jobs`` > 1 runs that many sets at once in worker processes (largest sets first, no progress
    bars); each set's systems still run one after the other on the same images in one process.
    ``on_set`` receives the report of the sets done so far (``unfinished`` lists the others) after
    each set, so a long run that is stopped still leaves its finished rows.
    """
    wanted = None if baselines is None else list(baselines)
    known = {b for data in sets for b in _known_baselines(data.modality, wanted)}
    unknown = [b for b in wanted or [] if b not in known]
    if unknown:
        raise ValueError(f"baseline {', '.join(unknown)} is known to none of the modalities run")
    done: dict[str, dict[str, Any]] = {}

    def finished(label: str, report: dict[str, Any]) -> None:
        done[label] = report
        if on_set is not None and len(done) < len(sets):
            partial = _report({d.label: done[d.label] for d in sets if d.label in done})
            on_set(partial | {"unfinished": [d.label for d in sets if d.label not in done]})

    if jobs <= 1:
        for data in sets:
            finished(data.label, run_one(data, wanted, progress, plot_dir))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        order = sorted(sets, key=lambda d: -sum(1 for _ in d.path.iterdir()))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_one, d, wanted, None, plot_dir): d.label for d in order}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return _report({data.label: done[data.label] for data in sets})


def _report(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"sets": reports, "means": means(reports), "targets": targets(reports)}


def _known_baselines(modality: str, wanted: list[str] | None) -> list[str]:
    mod = modalities.load(modality)
    names = [DEFAULT_BASELINE.get(modality, "")] if wanted is None else wanted
    known = []
    for name in names:
        try:
            mod.baseline(name)
        except ValueError:
            continue
        known.append(name)
    return known


def run_one(
    data: DataSet, wanted: list[str] | None, progress: Progress | None = None, plot_dir: Path | None = None
) -> dict[str, Any]:
    """One set: our system, then the first known baseline, on the same images; its report."""
    mod = modalities.load(data.modality)
    ours_system = mod.modality()
    ours = accuracy.run(ours_system, data.path, progress)
    report = ours.report() | {"set": data.label, "modality": data.modality, "system": ours.modality}
    systems = {"carekey": (ours.genuine, ours.impostor)}
    for name in _known_baselines(data.modality, wanted)[:1]:
        system = mod.baseline(name)
        same_extraction = type(system).extract is type(ours_system).extract
        ref = accuracy.run(system, data.path, progress, reuse=ours if same_extraction else None)
        report["baseline"] = ref.report() | {"system": name}
        report["eer_ratio_to_baseline"] = (
            report["eer"] / report["baseline"]["eer"] if report["baseline"]["eer"] else None
        )
        systems[name] = (ref.genuine, ref.impostor)
    if plot_dir is not None:
        out = Path(plot_dir) / f"det_{data.modality}_{data.label.replace('/', '_')}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        plots.det_plot(systems, out, f"{data.modality}, {data.label}")
        report["det_plot"] = str(out)
    return report


def _mean(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.fmean(clean) if clean else None


def means(reports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per modality: the plain mean over its sets of every error rate (ours and the baseline's)."""
    out: dict[str, dict[str, Any]] = {}
    for modality in sorted({r["modality"] for r in reports.values()}):
        rows = [r for r in reports.values() if r["modality"] == modality]
        mean: dict[str, Any] = {"sets": len(rows)}
        for key in ("eer", "fnmr_at_fmr_1pct", "fnmr_at_fmr_0_1pct"):
            mean[key] = _mean([r[key] for r in rows])
            mean[f"baseline_{key}"] = _mean([r.get("baseline", {}).get(key) for r in rows])
        mean["failure_to_enroll"] = sum(r["failure_to_enroll"] for r in rows)
        mean["images"] = sum(r["images"] for r in rows)
        mean["baseline_failure_to_enroll"] = sum(r.get("baseline", {}).get("failure_to_enroll", 0) for r in rows)
        mean["eer_ratio_of_means"] = mean["eer"] / mean["baseline_eer"] if mean["baseline_eer"] else None
        ratios = [r.get("eer_ratio_to_baseline") for r in rows]
        mean["worst_eer_ratio"] = max((x for x in ratios if x is not None), default=None)
        out[modality] = mean
    return out


def targets(reports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Issue 12's targets, met or not, per modality run."""
    out: dict[str, dict[str, Any]] = {}
    mean = means(reports)
    for modality, goal in TARGETS.items():
        rows = {k: r for k, r in reports.items() if r["modality"] == modality}
        if not rows:
            continue
        checks: dict[str, Any] = {}
        if "max_eer_ratio_to_baseline_every_set" in goal:
            limit = goal["max_eer_ratio_to_baseline_every_set"]
            failing = [k for k, r in rows.items() if "baseline" not in r or r["eer"] > limit * r["baseline"]["eer"]]
            checks[f"EER <= {limit} x baseline on every set"] = {"met": not failing, "not_met_on": failing}
        if "max_mean_eer" in goal:
            limit = goal["max_mean_eer"]
            checks[f"mean EER <= {limit * 100:g} %"] = {
                "met": mean[modality]["eer"] <= limit,
                "value": mean[modality]["eer"],
            }
        if "max_eer_every_set" in goal:
            limit = goal["max_eer_every_set"]
            failing = [k for k, r in rows.items() if r["eer"] > limit]
            checks[f"EER <= {limit * 100:g} % on every set"] = {"met": not failing, "not_met_on": failing}
        if "max_fte_share_every_set" in goal:
            limit = goal["max_fte_share_every_set"]
            failing = [k for k, r in rows.items() if r["failure_to_enroll"] > limit * r["images"]]
            checks[f"FTE <= {limit * 100:g} % on every set"] = {"met": not failing, "not_met_on": failing}
        out[modality] = checks
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f} %"


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


HEADER = [
    "set",
    "modality",
    "images",
    "FTE",
    "EER",
    "FNMR@FMR 1 %",
    "FNMR@FMR 0.1 %",
    "baseline",
    "FTE",
    "EER",
    "FNMR@FMR 1 %",
    "FNMR@FMR 0.1 %",
    "EER ratio",
]


def rows(report: dict[str, Any]) -> list[list[str]]:
    """Table rows: one per set, then one mean per modality."""
    out = []
    for label, r in report["sets"].items():
        b = r.get("baseline", {})
        out.append(
            [
                label,
                r["modality"],
                str(r["images"]),
                str(r["failure_to_enroll"]),
                _pct(r["eer"]),
                _pct(r["fnmr_at_fmr_1pct"]),
                _pct(r["fnmr_at_fmr_0_1pct"]),
                b.get("system", "—"),
                str(b.get("failure_to_enroll", "—")),
                _pct(b.get("eer")),
                _pct(b.get("fnmr_at_fmr_1pct")),
                _pct(b.get("fnmr_at_fmr_0_1pct")),
                _ratio(r.get("eer_ratio_to_baseline")),
            ]
        )
    for modality, m in report["means"].items():
        out.append(
            [
                f"mean ({m['sets']} sets)",
                modality,
                str(m["images"]),
                str(m["failure_to_enroll"]),
                _pct(m["eer"]),
                _pct(m["fnmr_at_fmr_1pct"]),
                _pct(m["fnmr_at_fmr_0_1pct"]),
                "",
                str(m["baseline_failure_to_enroll"]),
                _pct(m["baseline_eer"]),
                _pct(m["baseline_fnmr_at_fmr_1pct"]),
                _pct(m["baseline_fnmr_at_fmr_0_1pct"]),
                _ratio(m["eer_ratio_of_means"]),
            ]
        )
    return out


def _verdicts(report: dict[str, Any]) -> list[str]:
    lines = []
    for modality, checks in report["targets"].items():
        for name, check in checks.items():
            state = "met" if check["met"] else "NOT met"
            where = f" (not on: {', '.join(check['not_met_on'])})" if check.get("not_met_on") else ""
            lines.append(f"{modality}: {name}: {state}{where}")
    return lines


def table(report: dict[str, Any]) -> str:
    """Plain-text table for the terminal."""
    body = [HEADER, *rows(report)]
    widths = [max(len(row[c]) for row in body) for c in range(len(HEADER))]
    lines = [
        "  ".join(cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in body
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([*lines, "", *_verdicts(report)])


def markdown(report: dict[str, Any]) -> str:
    """The same table as Markdown (carekey columns, then the baseline's; ratio = our EER / its EER)."""
    head = [
        "set",
        "modality",
        "images",
        "FTE",
        "EER",
        "FNMR@FMR 1 %",
        "FNMR@FMR 0.1 %",
        "baseline",
        "baseline FTE",
        "baseline EER",
        "baseline FNMR@1 %",
        "baseline FNMR@0.1 %",
        "EER ratio",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows(report):
        if row[0].startswith("mean"):
            row = [f"**{c}**" if c else c for c in row]
        lines.append("| " + " | ".join(row) + " |")
    if report.get("unfinished"):
        lines += ["", f"Not finished yet (partial report): {', '.join(report['unfinished'])}."]
    return "\n".join([*lines, "", *(f"- {v}" for v in _verdicts(report))]) + "\n"
