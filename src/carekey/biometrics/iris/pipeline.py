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


def analyse(eye: EyeImage) -> Analysis:
    """Run segmentation, masking and the quality checks, keeping what was found even when rejected."""
    seg = masked = None
    try:
        seg = segmentation.segment(eye)
        masked = occlusion.mask_noise(normalization.rubber_sheet(seg))
        quality.check(seg, masked)
    except CaptureRejected as exc:
        return Analysis(eye, seg, masked, exc)
    return Analysis(eye, seg, masked, None)


def extract_from_eye(eye: EyeImage) -> IrisTemplate:
    seg = segmentation.segment(eye)
    unwrapped = normalization.rubber_sheet(seg)
    masked = occlusion.mask_noise(unwrapped)
    quality.check(seg, masked)
    return encoding.encode(masked)


def extract(image_bytes: bytes) -> IrisTemplate:
    return extract_from_eye(capture.decode(image_bytes))
