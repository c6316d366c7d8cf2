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

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from carekey.biometrics.feed import Progress, TemplateFeed
from carekey.biometrics.image_header import check_pixels
from carekey.biometrics.modality import Modality
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, ConsentMissing, InvalidInput, NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.deps import Actor, Deps
from carekey.services.images import keep_image
from carekey.services.lookup import Candidate, report_candidates
from carekey.services.records import data_key, load_row, open_person_or_none
from carekey.services.visits import load_visit
from carekey.storage.protocols import TemplateRow, UnitOfWork

SHORTLIST = 200  # best templates per probed position fused into per-person scores: a person outside the top 200
# of one position counts 0 there (as a position they have no template for)


class BiometricMatcher(Protocol):
    """The biometric engine behind template protection. It owns the gallery: per program, modality and position
    an in-memory 1:N index of the stored templates of its key version, loaded once (``build``) and kept current
    from the database's template change feed (``follow``) before every search; services never hand it templates.
    It knows template ids and program ids, never persons."""

    key_version: int

    def extract(self, modality: str, image: bytes) -> bytes:
        """Quality-check, extract and protect; raises CaptureRejected on unusable images. The image is
        not kept."""
        ...

    def probe(self, modality: str, image: bytes) -> bytes:
        """Like ``extract``, in the form used to search (may differ, e.g. iris rotations)."""
        ...

    def follow(self, feed: TemplateFeed) -> None:
        """Follow the database's template change feed (wired once by ``bootstrap``)."""
        ...

    def build(self, progress: Progress | None = None) -> int:
        """Load the gallery now (server start-up) instead of on the first search; returns the template count."""
        ...

    def search(self, program_id: str, modality: str, probe: bytes, position: str | None = None,
               among: Collection[str] | None = None) -> list[tuple[str, float]]:
        """(template id, score) of the program's templates, best first, after catching up on the feed: of
        ``position`` only if given, of the template ids ``among`` only if given. A matcher with a 1:N index may
        leave out templates its pre-filter ruled out (they score below any threshold)."""
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

    @property
    def matcher(self) -> BiometricMatcher:
        return self._matcher

    @matcher.setter
    def matcher(self, matcher: BiometricMatcher) -> None:
        """The matcher follows the database's template feed (its gallery is its own, never handed over)."""
        if self.d.template_feed is not None:
            matcher.follow(self.d.template_feed)
        self._matcher = matcher

    def warm_up(self, progress: Progress | None = None) -> int:
        """Load the matcher's gallery (server start-up); returns the number of templates indexed."""
        return self.matcher.build(progress)

    def enroll(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, modality: str,
               position: str, image: bytes) -> str:
        """Authorize and log (short transaction), extract outside any transaction, store (short transaction)."""
        modality, now = _modality(modality), self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.ENROLL_BIOMETRIC, purpose, visit=visit, person_id=person_id)
            load_row(uow, person_id)
            uow.commit()  # the granted attempt is logged, whatever the capture gives
        check_pixels(image, self.d.settings.max_image_pixels, strict=False)
        protected = self.matcher.extract(modality, image)  # CaptureRejected: the attempt is already logged
        with self.d.uow() as uow:
            visit, row = load_visit(uow, visit_id), load_row(uow, person_id)
            consents = consents_of(uow, person_id)
            if Purpose.BIOMETRIC_IDENTIFICATION not in consents:  # revoked while the image was being extracted
                raise ConsentMissing("biometric identification consent was withdrawn during the capture",
                                     purpose=Purpose.BIOMETRIC_IDENTIFICATION.value)
            template = TemplateRow(new_id("T"), person_id, modality, position[:40], self.matcher.key_version,
                                   protected, now)
            uow.biometrics.add(template)
            if Purpose.BIOMETRIC_IMAGE_RETENTION in consents:
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
        search; without it the policy denies the search (and the denial is logged).

        Three steps, no heavy work under a write lock: (1) authorize and log the decision (short transaction,
        committed: a refused capture still counts against the identification limit); (2) extract and search
        the matcher's gallery of the visit's program, outside any transaction; (3) log each candidate shown and
        record the offers (short transaction), before the candidates are returned."""
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
            # on a visit already serving a person, only that person (a verification: the biometric proof of
            # presence), never a search of everyone else
            among = None if visit.person_id is None else [
                r.id for r in uow.biometrics.for_person(visit.person_id)
                if r.modality == modality and r.key_version == self.matcher.key_version]
            uow.commit()
        for img in images.values():
            check_pixels(img, self.d.settings.max_image_pixels, strict=False)
        probes = {pos: self.matcher.probe(modality, img) for pos, img in images.items()}
        per_position = {pos: self.matcher.search(site.program_id, modality, probe, pos[:40] or None, among)[:SHORTLIST]
                        for pos, probe in probes.items()}
        threshold = self.matcher.threshold(modality)
        with self.d.uow() as uow:
            owner = uow.biometrics.owners([ref for found in per_position.values() for ref, _ in found])
            best: dict[str, dict[str, float]] = {}
            for pos, found in per_position.items():
                mine = best.setdefault(pos, {})
                for ref, score in found:
                    if ref in owner:  # deleted since the search: not shown
                        mine[owner[ref]] = max(mine.get(owner[ref], score), score)
            people = {pid for found in best.values() for pid in found}
            fused = {pid: sum(f.get(pid, 0.0) for f in best.values()) / len(best) for pid in people}
            hits = sorted(((pid, sc) for pid, sc in fused.items() if sc >= threshold), key=lambda kv: (-kv[1], kv[0]))
            out: list[Candidate] = []
            visit = load_visit(uow, visit_id)
            assert visit is not None
            for pid, score in hits:
                person = open_person_or_none(self.d.crypto, load_row(uow, pid))
                if person is not None and Purpose.BIOMETRIC_IDENTIFICATION in consents_of(uow, pid):
                    out.append(Candidate.of(person, score))
                if len(out) == self.d.settings.max_candidates:
                    break
            report_candidates(uow, self.d, actor, visit, Action.IDENTIFY_BIOMETRIC.value, p, out, "biometric")
            uow.commit()
        return out
