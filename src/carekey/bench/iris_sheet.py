"""Contact sheet of iris segmentations: pupil (green) and limbus (cyan) drawn on each image, the noise
mask (eyelids, lashes, reflections) tinted red, and for rejected captures the reason in the tile.

A sample of the images of a set (evenly spread over the sorted file names) plus, first, every
rejected image up to a limit, so anyone can see what the segmentation does and why it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from carekey.bench.accuracy import IMAGE_SUFFIXES
from carekey.biometrics.iris import capture, pipeline
from carekey.biometrics.iris import parameters as P
from carekey.errors import CarekeyError

TILE = 180  # px, the longer side of a tile


def _tile(path: Path) -> tuple[np.ndarray, bool]:
    try:
        eye = capture.decode(path.read_bytes())
    except CarekeyError as exc:
        blank = np.full((TILE * 3 // 4, TILE, 3), 40, np.uint8)
        return _caption(blank, path.name, exc.message), True
    a = pipeline.analyse(eye)
    img = cv2.cvtColor(np.ascontiguousarray(eye.pixels), cv2.COLOR_GRAY2BGR)
    seg = a.segmentation
    if seg is not None and a.masked is not None:
        # the noise mask, mapped back from the rubber sheet onto the image
        theta = np.linspace(0.0, 2 * np.pi, P.NORM_ANGULAR, endpoint=False)
        rho = (np.arange(P.NORM_RADIAL) + 0.5) / P.NORM_RADIAL
        xs = (1 - rho)[:, None] * (seg.pupil.x + seg.pupil.r * np.cos(theta)) + rho[:, None] * (
            seg.iris.x + seg.iris.r * np.cos(theta)
        )
        ys = (1 - rho)[:, None] * (seg.pupil.y + seg.pupil.r * np.sin(theta)) + rho[:, None] * (
            seg.iris.y + seg.iris.r * np.sin(theta)
        )
        noisy = a.masked.noise
        xi, yi = np.round(xs[noisy]).astype(int), np.round(ys[noisy]).astype(int)
        ok = (xi >= 0) & (xi < img.shape[1]) & (yi >= 0) & (yi < img.shape[0])
        overlay = img.copy()
        for x, y in zip(xi[ok], yi[ok], strict=True):
            cv2.circle(overlay, (int(x), int(y)), 2, (0, 0, 255), -1)
        img = cv2.addWeighted(overlay, 0.35, img, 0.65, 0)
    if seg is not None:
        for c, colour in ((seg.pupil, (0, 255, 0)), (seg.iris, (255, 255, 0))):
            cv2.circle(img, (round(c.x), round(c.y)), round(c.r), colour, 2, cv2.LINE_AA)
    scale = TILE / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    if seg is not None:
        score = f" q={a.quality['quality']:.2f}" if a.quality else ""
        label = f"{path.name} r={seg.pupil.r:.0f}/{seg.iris.r:.0f}{score}"
    else:
        label = path.name
    if a.rejected is not None:
        reason = str(a.rejected.detail.get("reason", ""))
        return _caption(img, label, f"REJECTED {reason}: {a.rejected.message}"), True
    return _caption(img, label, None), False


def _caption(img: np.ndarray, label: str, reject: str | None) -> np.ndarray:
    h, w = img.shape[:2]
    out = np.zeros((h + 14 + (28 if reject else 0), TILE, 3), np.uint8)
    out[:h, :w] = img
    cv2.putText(out, label[:40], (2, h + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
    if reject:
        cv2.rectangle(out, (0, 0), (w - 1, h - 1), (0, 0, 255), 2)
        words, lines, line = reject.split(), [], ""
        for word in words:
            if len(line) + len(word) > 44 and line:
                lines.append(line)
                line = ""
            line = f"{line} {word}".strip()
        lines.append(line)
        for k, text in enumerate(lines[:2]):
            cv2.putText(out, text, (2, h + 25 + 12 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (80, 80, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(
    folder: Path,
    out: Path,
    sample: int = 30,
    max_rejected: int = 12,
    columns: int = 6,
    scan: int | None = None,
    progress: Callable[[Iterable[Any], str, int], Iterable[Any]] | None = None,
    first: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Draw ``sample`` evenly spread images and up to ``max_rejected`` rejected ones; return counts.

    ``first``: the images a run over the whole set failed to enroll (e.g. ``bench accuracy``'s
    ``failed_images``): they are drawn first, and only they and the sample are segmented (no search
    for other rejections: that run has looked at every image already).
    """
    track = progress or (lambda it, _label, _n: it)
    every = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not every:
        raise ValueError(f"{folder}: no images")
    files = every
    if scan is not None and scan < len(files):  # look for rejections in an evenly spread subset only
        files = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, scan).astype(int))]
    chosen = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, min(sample, len(files))).astype(int))]
    named = set(first or ())
    unknown = named - {p.name for p in every}
    if unknown:
        raise ValueError(f"{folder}: no such image(s): {', '.join(sorted(unknown))}")
    if first is not None:
        files = [p for p in every if p.name in named] + [p for p in chosen if p.name not in named]
    tiles: list[np.ndarray] = []
    rejected: list[tuple[str, np.ndarray]] = []  # (file name, captioned tile)
    for path in track(files, f"segment {Path(folder).name}", len(files)):
        tile, bad = _tile(path) if path in chosen or len(rejected) < max_rejected else (None, False)
        if tile is None:
            continue
        if bad:
            rejected.append((path.name, tile))
        elif path in chosen:
            tiles.append(tile)
    allt = [t for _, t in rejected[:max_rejected]] + tiles
    height = max(t.shape[0] for t in allt)
    allt = [np.vstack([t, np.zeros((height - t.shape[0], TILE, 3), np.uint8)]) for t in allt]
    while len(allt) % columns:
        allt.append(np.zeros((height, TILE, 3), np.uint8))
    rows = [np.hstack(allt[i : i + columns]) for i in range(0, len(allt), columns)]
    sheet = np.vstack(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a fixed palette (greys, red-tinted greys, the drawing colours) keeps a sheet of a few dozen eyes
    # well under 500 KB (it is committed) without merging the pupil and limbus colours
    Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB)).quantize(palette=_palette(), dither=Image.Dither.NONE).save(
        out, optimize=True
    )
    return {
        "dataset": str(folder),
        "images_scanned": len(files),
        "images_named_first": len(named),
        "tiles": len(tiles) + len(rejected[:max_rejected]),
        "rejected_drawn": len(rejected[:max_rejected]),
    }


def failed_images(report: dict[str, Any], folder: Path) -> list[str]:
    """File names that an accuracy report (single-set, or the multi-set one) failed to enroll in
    ``folder``: its ``failed_images`` entries read ``<file name>: <message>``."""
    if "sets" in report:
        wanted = Path(folder).resolve()
        rows = [r for r in report["sets"].values() if Path(r.get("dataset", "")).resolve() == wanted]
        if not rows:
            raise ValueError(f"{folder}: not among the sets of this accuracy report")
    else:
        rows = [report]
    return [line.split(":", 1)[0] for r in rows for line in r.get("failed_images", [])]


def _palette() -> Image.Image:
    greys = np.linspace(0, 255, 100)
    tinted = [(0.65 * g + 0.35 * 255, 0.65 * g, 0.65 * g) for g in greys]
    colours = [(g, g, g) for g in greys] + tinted + [(0, 255, 0), (0, 255, 255), (255, 80, 80), (255, 0, 0)]
    flat = [int(round(v)) for c in colours for v in c]
    pal = Image.new("P", (1, 1))
    pal.putpalette(flat + flat[-3:] * (256 - len(colours)))
    return pal
