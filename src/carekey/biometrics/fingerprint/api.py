"""The public facade of fingerprint recognition: extract, compare, and a 1:N index.

    template = extract(image_bytes)                 # CaptureRejected: please recapture
    score = compare(template_a, template_b)         # similarity in [0, 1]
    accepted = score >= THRESHOLD_FMR_0_1PCT

Two fingers per person: ``extract_pair`` and ``compare_pair`` (mean-rule fusion); the index holds
entries of two fingers by default. Everything else in this package is private to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from carekey.biometrics.fingerprint import capture, matcher
from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.fingerprint.index import Candidate, FingerprintIndex, fused_score
from carekey.biometrics.fingerprint.minutiae import extract_minutiae
from carekey.biometrics.fingerprint.templates import FingerprintTemplate

THRESHOLD_FMR_0_1PCT = P.THRESHOLD_FMR_0_1PCT
THRESHOLD_FMR_0_01PCT = P.THRESHOLD_FMR_0_01PCT

__all__ = [
    "Candidate",
    "FingerprintIndex",
    "FingerprintTemplate",
    "THRESHOLD_FMR_0_01PCT",
    "THRESHOLD_FMR_0_1PCT",
    "compare",
    "compare_pair",
    "extract",
    "extract_pair",
    "load",
    "save",
]


def extract(image_bytes: bytes, dpi: float | None = None, min_nfiq2: int = P.MIN_NFIQ2) -> FingerprintTemplate:
    """Template of one finger image (PNG, TIFF, BMP or JPEG, grayscale; or an ISO/IEC 19794-4 record).

    Resolution: ``dpi`` when the caller states it, else the file's own resolution tag (or the record's),
    else 500 ppi;
    the image is rescaled to 500 ppi before extraction, and refused under 350 ppi.

    Raises CaptureRejected (asking to recapture) for unreadable, mis-sized, blank, non-fingerprint
    or low-quality (NFIQ2 below ``min_nfiq2``) images.
    """
    pixels = capture.checked_image(image_bytes, dpi)
    found = extract_minutiae(pixels, with_quality=min_nfiq2 > 0)
    capture.check_quality(found.nfiq2, min_nfiq2)
    capture.check_minutiae_count(len(found.minutiae))
    template = FingerprintTemplate.from_minutiae(found.minutiae, found.nfiq2)
    capture.check_minutiae_count(template.cylinder_count)
    return template


def extract_pair(
    images: Sequence[bytes], dpi: float | None = None, min_nfiq2: int = P.MIN_NFIQ2
) -> tuple[FingerprintTemplate, FingerprintTemplate]:
    """Templates of two different fingers (e.g. right and left index), in a fixed order."""
    if len(images) != 2:
        raise ValueError("enrollment takes exactly two finger images")
    return extract(images[0], dpi, min_nfiq2), extract(images[1], dpi, min_nfiq2)


def compare(a: FingerprintTemplate, b: FingerprintTemplate) -> float:
    """Similarity of two fingerprints in [0, 1]; compare with THRESHOLD_FMR_0_1PCT."""
    return matcher.score(a.xyt, a.bits, a.masks, b.xyt, b.bits, b.masks)


def compare_pair(a: Sequence[FingerprintTemplate], b: Sequence[FingerprintTemplate]) -> float:
    """Fused similarity of two two-finger captures (mean of the per-finger scores)."""
    return fused_score(a, b)


def save(template: FingerprintTemplate) -> bytes:
    """Versioned persistent form (validated by ``load``)."""
    return template.to_bytes()


def load(data: bytes) -> FingerprintTemplate:
    """Template from its persistent form; TemplateError when corrupt or of another version."""
    return FingerprintTemplate.from_bytes(data)
