"""The extraction pipeline, top to bottom: decode -> segment -> unwrap -> mask -> check -> encode."""

from __future__ import annotations

from carekey.biometrics.iris import capture, encoding, normalization, occlusion, quality, segmentation
from carekey.biometrics.iris.capture import EyeImage
from carekey.biometrics.iris.templates import IrisTemplate


def extract_from_eye(eye: EyeImage) -> IrisTemplate:
    seg = segmentation.segment(eye)
    unwrapped = normalization.rubber_sheet(seg)
    masked = occlusion.mask_noise(unwrapped)
    quality.check(seg, masked)
    return encoding.encode(masked)


def extract(image_bytes: bytes) -> IrisTemplate:
    return extract_from_eye(capture.decode(image_bytes))
