"""The public iris facade: extract a template from image bytes, compare two, search a gallery.

template = extract(image_bytes)           # raises CaptureRejected with a recapture hint
distance = compare(a, b)                  # normalized Hamming distance, lower = more alike
is_match(distance)                        # against parameters.MATCH_THRESHOLD
gallery = IrisGallery(); gallery.add("k1", template); gallery.search(probe)
fused = compare_eyes((left_a, left_b), (right_a, right_b))
"""

from __future__ import annotations

from carekey.biometrics.iris import matching, pipeline
from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.index import Candidate, IrisGallery
from carekey.biometrics.iris.templates import IrisTemplate

__all__ = [
    "Candidate",
    "IrisGallery",
    "IrisTemplate",
    "compare",
    "compare_eyes",
    "extract",
    "is_match",
    "load_template",
    "MATCH_THRESHOLD",
]

MATCH_THRESHOLD = P.MATCH_THRESHOLD


def extract(image_bytes: bytes) -> IrisTemplate:
    """Iris template from a PNG/BMP/TIFF/JPEG eye image."""
    return pipeline.extract(image_bytes)


def compare(a: IrisTemplate, b: IrisTemplate) -> float:
    """Rotation-compensated, Daugman-normalized Hamming distance in [0, 1]; lower = more alike."""
    return matching.compare(a, b)


def is_match(distance: float) -> bool:
    return distance <= P.MATCH_THRESHOLD


def compare_eyes(
    left: tuple[IrisTemplate, IrisTemplate] | None, right: tuple[IrisTemplate, IrisTemplate] | None
) -> float:
    """Fused distance of two eyes (either may be missing): bits of both eyes pooled."""
    return matching.fuse_eyes(
        matching.compare_detail(*left) if left else None, matching.compare_detail(*right) if right else None
    )


def load_template(data: bytes) -> IrisTemplate:
    """Validate and load a persistent template (TemplateError when corrupt or of another version)."""
    return IrisTemplate.from_bytes(data)
