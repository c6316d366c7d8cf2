"""Biometric enrollment and 1:N identification through the BiometricMatcher port.

The fingerprint and iris engines live in ``carekey.biometrics`` and are wired in ``bootstrap``
(``biometrics.protection.matcher.ProtectedMatcher``); this layer only sees protected template bytes.
Templates are stored only with ``biometric_identification`` granted and are deleted when it is revoked.
Images go to the matcher and are dropped with the request, unless the person opted in to keeping them
(``biometric_image_retention``, a separate, default-off consent that needs ``biometric_identification``):
then the enrollment image is kept sealed under the person's own data key (``services.images``), linked to its
template, so that a key rotation can renew the template without a new capture (``services.renewal``). Kept
images are deleted when either consent is revoked, on erasure (and crypto-shredded with the data key), and by
``RetentionService`` when the consent is missing. Identification probes are never kept.

Key versions: only templates of the matcher's current biometric key version are searched. Enrolling a
position again under the current version deletes that person's retired templates of the modality;
``RetentionService`` deletes the rest. Identification takes one image, or one per position (two
fingers, two eyes): per-position best scores of a person are fused by the mean rule (a probed position
the person has no template for counts 0).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from carekey.biometrics.image_header import check_pixels
from carekey.biometrics.modality import Modality
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, InvalidInput, NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.deps import Actor, Deps
from carekey.services.images import keep_image
from carekey.services.lookup import Candidate, report_candidates
from carekey.services.records import data_key, load_row, open_person_or_none
from carekey.services.visits import load_visit
from carekey.storage.protocols import TemplateRow, UnitOfWork


class BiometricMatcher(Protocol):
    key_version: int

    def extract(self, modality: str, image: bytes) -> bytes:
        """Quality-check, extract and protect; raises CaptureRejected on unusable images. The image is
        not kept."""
        ...

    def probe(self, modality: str, image: bytes) -> bytes:
        """Like ``extract``, in the form used to search (may differ, e.g. iris rotations)."""
        ...

    def search(self, modality: str, probe: bytes, gallery: Sequence[tuple[str, bytes]]) -> list[tuple[str, float]]:
        """Score the probe against (reference id, protected template) pairs; best first. A matcher with a
        1:N index may leave out pairs its pre-filter ruled out (they score below any threshold)."""
        ...

    def threshold(self, modality: str) -> float:
        """The decision threshold on ``search`` scores for this modality."""
        ...


@contextmanager
def _logged_rejection(uow: UnitOfWork) -> Iterator[None]:
    """A capture refused after the policy allowed the attempt: keep the attempt's log entry (committed), so the
    refusal is visible to auditors and counts against the identification rate limit, then re-raise."""
    try:
        yield
    except CaptureRejected:
        uow.commit()
        raise


def _modality(raw: str) -> str:
    return Modality.parse(raw).value  # the plain value: it goes into SQL parameters and log entries


class BiometricService:
    def __init__(self, deps: Deps, matcher: BiometricMatcher) -> None:
        self.d = deps
        self.matcher = matcher

    def enroll(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, modality: str,
               position: str, image: bytes) -> str:
        modality, now = _modality(modality), self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.ENROLL_BIOMETRIC, purpose, visit=visit, person_id=person_id)
            row = load_row(uow, person_id)
            with _logged_rejection(uow):
                check_pixels(image, self.d.settings.max_image_pixels, strict=False)
                protected = self.matcher.extract(modality, image)
            template = TemplateRow(new_id("T"), person_id, modality, position[:40], self.matcher.key_version,
                                   protected, now)
            uow.biometrics.add(template)
            if Purpose.BIOMETRIC_IMAGE_RETENTION in consents_of(uow, person_id):
                keep_image(uow, self.d.crypto, data_key(self.d.crypto, row), template, bytes(image), now)
            uow.biometrics.delete_retired(self.matcher.key_version, person_id=person_id, modality=modality)
            assert visit is not None
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return template.id

    def identify(self, actor: Actor, visit_id: str, purpose: str | None, modality: str,
                 image: bytes | Mapping[str, bytes], *, person_agreed: bool) -> list[Candidate]:
        """Candidates above threshold, best first; ``image`` is one capture, or one per position.

        ``person_agreed``: the caller states that the person present heard the notice and agreed to this
        search; without it the policy denies the search (and the denial is logged)."""
        modality = _modality(modality)
        images = {"": image} if isinstance(image, bytes | bytearray) else dict(image)
        if not images:
            raise InvalidInput("at least one image is needed to identify")
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            p = authorize(uow, self.d.clock(), actor, Action.IDENTIFY_BIOMETRIC, purpose, visit=visit,
                          per_hour=self.d.settings.identifications_per_hour,
                          per_site_day=self.d.settings.identifications_per_site_per_day, person_agreed=person_agreed)
            assert visit is not None
            site = uow.programs.get_site(visit.site_id)
            if site is None:
                raise NotFound("the visit's site belongs to no program")
            with _logged_rejection(uow):  # a refused capture still counts against the identification limit
                for img in images.values():
                    check_pixels(img, self.d.settings.max_image_pixels, strict=False)
                probes = {pos: self.matcher.probe(modality, img) for pos, img in images.items()}
            # only the visit's program; on a visit already serving a person, only that person (a verification:
            # the biometric proof of presence), never a search of everyone else
            rows = [r for r in uow.biometrics.by_modality(modality, site.program_id)
                    if r.key_version == self.matcher.key_version
                    and (visit.person_id is None or r.person_id == visit.person_id)]
            owner = {r.id: r.person_id for r in rows}
            per_position: dict[str, dict[str, float]] = {}
            for pos, probe in probes.items():
                gallery = [(r.id, r.template) for r in rows if not pos or r.position == pos[:40]]
                found = per_position.setdefault(pos, {})
                for ref, score in self.matcher.search(modality, probe, gallery):
                    found[owner[ref]] = max(found.get(owner[ref], score), score)
            people = {pid for found in per_position.values() for pid in found}
            fused = {pid: sum(f.get(pid, 0.0) for f in per_position.values()) / len(per_position) for pid in people}
            threshold = self.matcher.threshold(modality)
            hits = sorted(((pid, sc) for pid, sc in fused.items() if sc >= threshold), key=lambda kv: -kv[1])
            out: list[Candidate] = []
            for pid, score in hits:
                person = open_person_or_none(self.d.crypto, load_row(uow, pid))
                if person is not None and Purpose.BIOMETRIC_IDENTIFICATION in consents_of(uow, pid):
                    out.append(Candidate.of(person, score))
                if len(out) == self.d.settings.max_candidates:
                    break
            report_candidates(uow, self.d, actor, visit, Action.IDENTIFY_BIOMETRIC.value, p, out, "biometric")
            uow.commit()
        return out
