"""The BiometricMatcher the services use: extract, protect, and search protected templates only.

Implements ``carekey.services.biometrics.BiometricMatcher`` structurally (biometrics imports nothing
of services). One instance holds one program's biometric secret of the current key version; templates
of any other version or secret are refused on load (TemplateError) and never searched. The image and
the unprotected template live only inside ``extract`` / ``probe``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from carekey.biometrics.feed import FollowedGallery, Progress, ShardIndex, TemplateFeed
from carekey.biometrics.modality import Modality
from carekey.biometrics.protection import calibration
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.shards import FingerprintShard, IrisShard
from carekey.biometrics.protection.templates import ProtectedTemplate, dump, load, load_many
from carekey.errors import TemplateError


class ProtectedMatcher:
    """Fingerprint (per finger; the services fuse two fingers) and iris (per eye; both eyes fused)."""

    def __init__(self, secret: bytes, key_version: int, min_nfiq2: int = 5, share: float = 1.0) -> None:
        """``share``: the part of each gallery this instance holds (1/K on each of K Ray shards: ``shards``)."""
        if len(secret) != P.SECRET_BYTES or key_version < 1:
            raise ValueError("a biometric secret of 32 bytes and a key version >= 1 are required")
        if not 0 < share <= 1:
            raise ValueError("share is the part of the gallery held here: 0 < share <= 1")
        self._secret = secret
        self._share = share
        self.key_version = key_version
        self._min_nfiq2 = min_nfiq2
        self.gallery = FollowedGallery(key_version, self._enrolled_codes, self._new_index, self._enrolled_codes_many)

    def _new_index(self, modality: str) -> ShardIndex:
        return IrisShard(self._share) if modality == "iris" else FingerprintShard(self._secret, self._share)

    def follow(self, feed: TemplateFeed) -> None:
        """Keep the gallery in step with the database's template feed (wired once by ``bootstrap``)."""
        self.gallery.follow(feed)

    def build(self, progress: Progress | None = None) -> int:
        """Load the gallery now (start-up) rather than on the first search; returns the template count."""
        return self.gallery.build(progress)

    def _protect(self, modality: str, image: bytes, probe: bool) -> bytes:
        # the extraction pipelines (OpenCV, SciPy, NBIS) load on first use: a Ray shard only searches, and its
        # process starts (and restarts) without them
        from carekey.biometrics.fingerprint import api as fingerprint_api
        from carekey.biometrics.iris import api as iris_api

        modality = Modality.parse(modality).value
        if modality == Modality.FINGERPRINT:
            codes = pfp.protect(fingerprint_api.extract(image, min_nfiq2=self._min_nfiq2), self._secret)
        else:
            template = iris_api.extract(image)
            codes = (
                piris.protect_probe(template, self._secret) if probe else piris.protect(template, self._secret)[None, :]
            )
        return dump(ProtectedTemplate(modality, self.key_version, codes), self._secret)

    def extract(self, modality: str, image: bytes) -> bytes:
        """Enrollment form. Raises CaptureRejected (with a recapture hint) on unusable images."""
        return self._protect(modality, image, probe=False)

    def probe(self, modality: str, image: bytes) -> bytes:
        """Search form (an iris probe holds every rotation). Raises CaptureRejected like ``extract``."""
        return self._protect(modality, image, probe=True)

    def load(self, modality: str, data: bytes) -> ProtectedTemplate:
        """Validate a stored template: TemplateError if corrupt, of another key version or program."""
        return load(data, modality, self.key_version, self._secret)

    def _enrolled_codes(self, modality: str, data: bytes) -> np.ndarray:
        """A stored (enrolled) template's codes, of the shape its index holds; TemplateError otherwise."""
        codes = self.load(modality, data).codes
        rows = P.FP_ROWS if modality == "fingerprint" else 1
        if codes.shape[0] != rows:
            raise TemplateError(f"Stored {modality} template has {codes.shape[0]} rows, not {rows}.", reason="size")
        return codes[0][None, :] if modality == "iris" else codes

    def _enrolled_codes_many(self, modality: str, data: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """``_enrolled_codes`` of a page of stored templates at once (start-up): (codes, positions of the valid)."""
        rows = P.FP_ROWS if modality == "fingerprint" else 1
        return load_many(data, modality, self.key_version, self._secret, rows)

    def search(
        self,
        program_id: str,
        modality: str,
        probe: bytes,
        position: str | None = None,
        among: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(template id, score) of the program's stored templates, best first, after catching up on the feed:
        of ``position`` only if given, of the template ids ``among`` only if given (a verification). Every
        template the 1:N index scored in full (``iris_index`` / ``fingerprint_index``; those its pre-filter
        ruled out are left out); another program's templates are never scored."""
        p = self.load(modality, probe).codes
        if modality == "fingerprint" and p.shape[0] != P.FP_ROWS:
            raise TemplateError(f"A fingerprint probe has {P.FP_ROWS} rows.", reason="size")
        return self.gallery.search(program_id, modality, p, position, among)

    def search_positions(
        self,
        program_id: str,
        modality: str,
        probes: Mapping[str, bytes],
        among: Collection[str] | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """``search`` of several positions, each with its probe, their indexes scored in parallel (an
        identification's two fingers or eyes): the same lists as one ``search`` per position."""
        loaded = {}
        for pos, probe in probes.items():
            p = self.load(modality, probe).codes
            if modality == "fingerprint" and p.shape[0] != P.FP_ROWS:
                raise TemplateError(f"A fingerprint probe has {P.FP_ROWS} rows.", reason="size")
            loaded[pos] = p
        return self.gallery.search_positions(program_id, modality, loaded, among)

    def threshold(self, modality: str) -> float:
        return P.FP_THRESHOLD if modality == "fingerprint" else P.IRIS_THRESHOLD

    def calibrated(self, modality: str, score: float) -> float:
        """The 0-100 score shown to the health worker: the false-match rate of ``score`` on a log scale
        (``calibration``)."""
        return calibration.calibrated(modality, score)

    def fuse(self, modality: str, scores: Sequence[float]) -> float:
        """Per-position scores of one person (two fingers, two eyes) fused by the mean rule."""
        return float(np.mean(scores)) if scores else 0.0
