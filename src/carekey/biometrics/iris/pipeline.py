"""The extraction pipeline, top to bottom: decode -> segment -> unwrap -> mask -> check -> encode."""

from __future__ import annotations

from dataclasses import dataclass

from carekey.biometrics.iris import capture, encoding, normalization, occlusion, quality, segmentation
from carekey.biometrics.iris.capture import EyeImage
from carekey.biometrics.iris.occlusion import MaskedIris
from carekey.biometrics.iris.segmentation import Segmentation
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.errors import CaptureRejected


@dataclass(frozen=True)
class Analysis:
    """What the pipeline saw in one eye image (for contact sheets and diagnostics)."""

    eye: EyeImage
    segmentation: Segmentation | None
    masked: MaskedIris | None
    rejected: CaptureRejected | None
    quality: dict[str, float] | None = None  # quality.score(): overall ``quality`` in [0, 1] and its parts


def analyse(eye: EyeImage) -> Analysis:
    """Run segmentation, masking and the quality checks, keeping what was found even when rejected."""
    seg = masked = score = None
    try:
        seg = segmentation.segment(eye)
        masked = occlusion.mask_noise(normalization.rubber_sheet(seg))
        score = quality.score(seg, masked)
        quality.check(seg, masked)
    except CaptureRejected as exc:
        return Analysis(eye, seg, masked, exc, score)
    return Analysis(eye, seg, masked, None, score)


def extract_from_eye(eye: EyeImage) -> IrisTemplate:
    seg = segmentation.segment(eye)
    unwrapped = normalization.rubber_sheet(seg)
    masked = occlusion.mask_noise(unwrapped)
    quality.check(seg, masked)
    return encoding.encode(masked)


def extract(image_bytes: bytes) -> IrisTemplate:
    return extract_from_eye(capture.decode(image_bytes))
