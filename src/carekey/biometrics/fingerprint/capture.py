"""Capture checks: decode an image file, bring it to 500 ppi (its own resolution tag, else 500 ppi),
and refuse what cannot be a usable print.

Every refusal is a CaptureRejected whose message asks the worker to recapture; nothing is written.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from carekey.biometrics.fingerprint import iso19794_4
from carekey.biometrics.fingerprint import parameters as P
from carekey.biometrics.image_header import check_pixels
from carekey.biometrics.resolution import declared_resolution
from carekey.errors import CaptureRejected

ACCEPTED_FORMATS = {"PNG", "TIFF", "BMP", "JPEG"}


def decode(image_bytes: bytes) -> np.ndarray:
    """8-bit grayscale pixels of a PNG, TIFF, BMP or JPEG file."""
    if not image_bytes:
        raise CaptureRejected("The image file is empty; please recapture the finger.")
    if len(image_bytes) > P.MAX_FILE_BYTES:
        raise CaptureRejected("The image file is too large for a single-finger capture; please recapture.")
    check_pixels(image_bytes)  # from the header, before decoding
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            if img.format not in ACCEPTED_FORMATS:
                raise CaptureRejected(
                    f"Image format {img.format} is not accepted (PNG, TIFF, BMP or JPEG); please recapture."
                )
            img.load()
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float gray: scale, don't clip
                wide = np.asarray(img, dtype=np.float64)
                low, high = float(wide.min()), float(wide.max())
                return np.round((wide - low) * (255.0 / max(high - low, 1e-9))).astype(np.uint8)
            return np.array(img.convert("L") if img.mode != "L" else img, dtype=np.uint8)
    except CaptureRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CaptureRejected(
            "The image file is unreadable or truncated; please recapture the finger.", cause=str(exc)
        ) from exc


def resolution_of(image_bytes: bytes, dpi: float | None) -> tuple[float, float, str]:
    """Pixels per inch (x, y) of a capture and where the figure came from.

    ``dpi`` given by the caller (the scanner driver knows) wins; otherwise the file's own resolution
    tag (``carekey.biometrics.resolution``); a file without one is taken to be 500 ppi, the
    resolution of ISO/IEC 19794-4 / FBI Appendix F single-finger scanners.
    """
    if dpi is not None:
        return float(dpi), float(dpi), "stated by the caller"
    declared = declared_resolution(image_bytes)
    if declared is None:
        return float(P.NOMINAL_DPI), float(P.NOMINAL_DPI), "no resolution tag: 500 ppi assumed"
    return declared.x, declared.y, f"from its {declared.source}"


def to_nominal_resolution(
    pixels: np.ndarray, dpi: float, dpi_y: float | None = None, source: str = "stated by the caller"
) -> np.ndarray:
    """Rescale an image of ``dpi`` (x; ``dpi_y`` along y, default the same) to 500 ppi.

    Refuses resolutions under MIN_DPI: ridges ~9 px apart at 500 ppi are under 6 px there, and
    minutiae can no longer be told apart reliably (ISO/IEC 19794-4 and FBI/NIST scanners: 500 ppi).
    """
    import cv2

    dpi_y = dpi if dpi_y is None else dpi_y
    low, high = min(dpi, dpi_y), max(dpi, dpi_y)
    if low < P.MIN_DPI:
        raise CaptureRejected(
            f"The image resolution is {low:.0f} ppi ({source}); fingerprints need at least {P.MIN_DPI} ppi "
            f"(scanners capture at 500 ppi); please recapture with a fingerprint scanner.",
            dpi=round(low),
            minimum_dpi=P.MIN_DPI,
        )
    if high > P.MAX_DPI:
        raise CaptureRejected(
            f"A resolution of {high:.0f} ppi ({source}) is not a fingerprint scanner's (at most {P.MAX_DPI}); "
            "please recapture.",
            dpi=round(high),
        )
    if abs(dpi - P.NOMINAL_DPI) < 1 and abs(dpi_y - P.NOMINAL_DPI) < 1:
        return pixels
    sx, sy = P.NOMINAL_DPI / dpi, P.NOMINAL_DPI / dpi_y
    h, w = pixels.shape
    size = (max(1, round(w * sx)), max(1, round(h * sy)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if sx * sy < 1 else cv2.INTER_CUBIC)


def check_size(pixels: np.ndarray) -> None:
    h, w = pixels.shape
    if min(h, w) < P.MIN_SIDE_PX or max(h, w) > P.MAX_SIDE_PX:
        raise CaptureRejected(
            f"Image size {w}x{h} px at 500 dpi is not a single-finger capture "
            f"({P.MIN_SIDE_PX}..{P.MAX_SIDE_PX} px per side); please recapture."
        )


def check_not_blank(pixels: np.ndarray) -> None:
    if float(pixels.std()) < P.MIN_GRAY_STD:
        raise CaptureRejected("The image is blank or uniform: no finger was on the scanner; please recapture.")


def ridge_band_energy(pixels: np.ndarray) -> float:
    """Share of the spectral energy (DC removed) at ridge periods of a 500 dpi fingerprint."""
    img = pixels.astype(np.float64)
    img -= img.mean()
    h, w = img.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(img * window)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    low, high = 1.0 / P.RIDGE_PERIOD_PX[1], 1.0 / P.RIDGE_PERIOD_PX[0]
    total = power[radius > 1.0 / max(h, w)].sum()
    band = power[(radius >= low) & (radius <= high)].sum()
    return float(band / total) if total > 0 else 0.0


def check_looks_like_fingerprint(pixels: np.ndarray) -> None:
    if ridge_band_energy(pixels) < P.MIN_RIDGE_BAND_ENERGY:
        raise CaptureRejected(
            "The image does not look like a fingerprint (no ridge pattern found); please recapture the finger."
        )


def check_quality(nfiq2: int | None, minimum: int) -> None:
    if nfiq2 is not None and nfiq2 < minimum:
        raise CaptureRejected(
            f"Fingerprint quality too low (NFIQ2 {nfiq2} < {minimum}); clean and dry the finger and recapture.",
            nfiq2=nfiq2,
        )


def check_minutiae_count(count: int) -> None:
    if count < P.MIN_MINUTIAE:
        raise CaptureRejected(
            f"Too few fingerprint features found ({count}); press the finger flat and recapture.", minutiae=count
        )


def checked_image(image_bytes: bytes, dpi: float | None = None) -> np.ndarray:
    """Decode, rescale to 500 ppi (``resolution_of``) and run every check that needs no feature extraction."""
    if iso19794_4.is_record(image_bytes):  # an ISO/IEC 19794-4 finger image record carries its resolution
        if len(image_bytes) > P.MAX_FILE_BYTES:
            raise CaptureRejected("The record is too large for a single-finger capture; please recapture.")
        record = iso19794_4.read(image_bytes)
        pixels = record.pixels
        dpi_x, dpi_y, source = (
            (float(dpi), float(dpi), "stated by the caller")
            if dpi is not None
            else (record.ppi_x, record.ppi_y, "from its ISO/IEC 19794-4 record")
        )
    else:
        pixels = decode(image_bytes)
        dpi_x, dpi_y, source = resolution_of(image_bytes, dpi)
    pixels = to_nominal_resolution(pixels, dpi_x, dpi_y, source)
    check_size(pixels)
    check_not_blank(pixels)
    check_looks_like_fingerprint(pixels)
    return pixels
