"""Where the development fingerprints are, and at which resolution their sensors scan."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
SENSOR_DPI_BY_SIZE = {(296, 560): 569.0}  # (width, height) -> dpi: FVC2002 DB2 (Biometrika FX2000)


def shared_fingerprints() -> Path:
    """``../shared/data/fingerprint`` beside the project (or beside the folder of git worktrees)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        candidate = base / "shared" / "data" / "fingerprint"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "fingerprint"


def sensor_dpi(path: Path) -> float | None:
    """The documented resolution of a development set's sensor whose files carry no resolution tag
    (FVC2002 DB2: 569 dpi, by its image size); None otherwise: the pipeline then reads the file's own
    resolution tag, or assumes 500 ppi when it has none."""
    with Image.open(path) as img:
        return SENSOR_DPI_BY_SIZE.get(img.size)
