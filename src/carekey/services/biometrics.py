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

Duplicate check at enrollment (``enroll``): storing the first template of a modality for a person first searches
the program (``_search``, the same scoring as ``identify``) under the program's enrollment lock
(``programs.lock``), so two registrars capturing the same finger at the same moment are checked one after the
other. A hit above threshold is refused with ``PossibleDuplicate`` listing the candidates (same fields and limit
as identification, each logged as shown and offered to the visit); the registrar then either confirms the person
is one of them (``confirm_duplicate``: the record made in this visit is erased and the visit serves the existing
person) or overrides with a reason from ``OVERRIDE_REASONS`` (logged as ``duplicate_override_<reason>`` and
counted per program by ``override_counts``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Protocol

from carekey.biometrics.image_header import check_pixels
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.errors import CaptureRejected, Conflict, InvalidInput, NotFound, PossibleDuplicate
from carekey.policy.decision import Action, Presence
from carekey.services.access import authorize, consents_of, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.images import keep_image
from carekey.services.lookup import Candidate, report_candidates
from carekey.services.people import erase_person
from carekey.services.records import data_key, load_row, open_person_or_none
from carekey.services.visits import load_visit
from carekey.storage.protocols import TemplateRow, UnitOfWork

MODALITIES = ("fingerprint", "iris")
POSITIONS = {"fingerprint": ("right_index", "left_index", "right_thumb", "left_thumb", "right_middle", "left_middle"),
             "iris": ("right_eye", "left_eye")}
OVERRIDE_REASONS = {"twins": "the person is a twin of the candidate",
                    "false_match": "the registrar checked with the person: not the candidate (false match)"}
OVERRIDE_ACTION = "duplicate_override_"  # + reason: the logged action of an override, counted per program


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

    def calibrated(self, modality: str, score: float) -> float:
        """A ``search`` score as shown to the health worker: 0-100, monotonic, from the matcher's impostor
        distribution (optional: a matcher without it shows its raw score x 100)."""
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
    if raw not in MODALITIES:
        raise InvalidInput(f"modality must be one of {', '.join(MODALITIES)}")
    return raw


class BiometricService:
    def __init__(self, deps: Deps, matcher: BiometricMatcher) -> None:
        self.d = deps
        self.matcher = matcher

    def enroll(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, modality: str,
               position: str, image: bytes, *, override: str | None = None, replace: bool = False) -> str:
        """Store one protected template. The first template of a modality runs the duplicate check (see the module
        docstring; ``override``: a key of ``OVERRIDE_REASONS`` after a ``PossibleDuplicate``). A position already
        enrolled is a ``Conflict`` unless ``replace`` (the registrar confirmed the recapture)."""
        modality, now = _modality(modality), self.d.clock()
        position = position.strip()[:40]  # the interfaces offer POSITIONS; older callers name eyes "left"/"right"
        if not position:
            raise InvalidInput("name the finger or eye (position)", field="position")
        if override is not None and override not in OVERRIDE_REASONS:
            raise InvalidInput(f"override must be one of {', '.join(OVERRIDE_REASONS)}", field="override")
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            p = authorize(uow, now, actor, Action.ENROLL_BIOMETRIC, purpose, visit=visit, person_id=person_id)
            row = load_row(uow, person_id)
            assert visit is not None
            with _logged_rejection(uow):
                check_pixels(image, self.d.settings.max_image_pixels, strict=False)
                protected = self.matcher.extract(modality, image)
            uow.programs.lock(row.program_id)  # check and store one at a time per program (racing registrars)
            mine = [t for t in uow.biometrics.for_person(person_id)
                    if t.modality == modality and t.key_version == self.matcher.key_version]
            if any(t.position == position for t in mine):
                if not replace:
                    raise Conflict(f"{modality} {position.replace('_', ' ')} is already enrolled: confirm to replace "
                                   "it", field="position")
                uow.biometrics.delete_position(person_id, modality, position)
                uow.images.delete_position(person_id, modality, position)
            if not mine:
                self._check_duplicates(uow, actor, visit, p, row.program_id, person_id, modality, image, override)
            template = TemplateRow(new_id("T"), person_id, modality, position, self.matcher.key_version,
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

    def _check_duplicates(self, uow: UnitOfWork, actor: Actor, visit, purpose: Purpose, program_id: str,  # type: ignore[no-untyped-def]
                          person_id: str, modality: str, image: bytes, override: str | None) -> None:
        """Refuse (logged, committed) when the probe matches other people of the program, unless overridden."""
        probe = self.matcher.probe(modality, image)
        hits = [(pid, sc) for pid, sc in self._search(uow, program_id, modality, {"": probe}) if pid != person_id]
        out = self._candidates(uow, modality, hits)
        if not out:
            return
        if override is not None:
            log_access(uow, self.d.clock(), actor, OVERRIDE_ACTION + override, purpose.value, "granted",
                       f"duplicate check overridden: {OVERRIDE_REASONS[override]} ({len(out)} candidate(s) above "
                       "threshold)", visit.site_id, person_id)
            return
        report_candidates(uow, self.d, actor, visit, Action.ENROLL_BIOMETRIC.value, purpose, out, "duplicate")
        log_access(uow, self.d.clock(), actor, Action.ENROLL_BIOMETRIC.value, purpose.value, "denied",
                   f"possible duplicate: {len(out)} enrolled person(s) match this {modality}", visit.site_id,
                   person_id)
        uow.commit()
        raise PossibleDuplicate(f"this {modality} matches {len(out)} person(s) already enrolled in the program: "
                                "confirm who the person is, or override with a reason "
                                f"({', '.join(OVERRIDE_REASONS)})", candidates=[asdict(c) for c in out])

    def _search(self, uow: UnitOfWork, program_id: str, modality: str, probes: Mapping[str, bytes],
                only_person: str | None = None) -> list[tuple[str, float]]:
        """(person id, fused score) above threshold, best first: the program's current-version templates scored
        per position, per-position best scores of a person fused by the mean rule. The one place that touches the
        search internals (the matcher's program-scoped gallery replaces its body)."""
        rows = [r for r in uow.biometrics.by_modality(modality, program_id)
                if r.key_version == self.matcher.key_version and (only_person is None or r.person_id == only_person)]
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
        return sorted(((pid, sc) for pid, sc in fused.items() if sc >= threshold), key=lambda kv: -kv[1])

    def _candidates(self, uow: UnitOfWork, modality: str, hits: list[tuple[str, float]]) -> list[Candidate]:
        """At most ``max_candidates`` people who still consent to biometric identification, best first, with the
        calibrated 0-100 score."""
        shown = getattr(self.matcher, "calibrated", None)
        out: list[Candidate] = []
        for pid, score in hits:
            person = open_person_or_none(self.d.crypto, load_row(uow, pid))
            if person is not None and Purpose.BIOMETRIC_IDENTIFICATION in consents_of(uow, pid):
                out.append(Candidate.of(person, shown(modality, score) if shown else min(100.0, 100.0 * score)))
            if len(out) == self.d.settings.max_candidates:
                break
        return out

    def confirm_duplicate(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str,
                          existing_id: str) -> None:
        """The registrar confirms that the person enrolled in this visit (``person_id``) is ``existing_id``, a
        candidate of this visit's duplicate check: the new record is erased (crypto-shredded, nothing of it is
        copied anywhere) and the visit serves the existing person. Both steps are policy decisions, logged."""
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            offers = uow.visits.offers(visit_id) if visit else {}
            if visit is None or offers.get(person_id) != "enrolled" or offers.get(existing_id) != "duplicate":
                raise Conflict("only a person enrolled in this visit can be merged into a candidate its duplicate "
                               "check offered")
            authorize(uow, now, actor, Action.ERASE, Purpose.CARE_RECORD.value, visit=visit, person_id=person_id,
                      presence=Presence.ENROLLED, logged_action="discard_duplicate_enrollment",
                      detail="; the person is already enrolled (confirmed in this visit)")
            load_row(uow, person_id)
            erase_person(uow, self.d, person_id)
            unbound = replace(visit, person_id=None)
            authorize(uow, now, actor, Action.READ_PERSON, purpose, visit=unbound, person_id=existing_id,
                      logged_action="confirm_duplicate")
            uow.visits.save(unbound.bind(existing_id))
            uow.commit()

    def override_counts(self, program_id: str, since: datetime | None = None) -> dict[str, int]:
        """How many duplicate checks the program's registrars overrode, per reason (no person named)."""
        with self.d.uow() as uow:
            sites = [s.id for s in uow.programs.list_sites() if s.program_id == program_id]
            start = since or datetime(2000, 1, 1, tzinfo=UTC)
            return {reason: sum(uow.access_log.count_site_since(site, [OVERRIDE_ACTION + reason], start)
                                for site in sites) for reason in OVERRIDE_REASONS}

    def enrolled_positions(self, person_id: str) -> dict[str, list[str]]:
        """Which fingers and eyes of the person have a current template (modality -> positions); for the visit
        page of a person the caller is already authorized to see (no template bytes leave)."""
        with self.d.uow() as uow:
            found: dict[str, list[str]] = {m: [] for m in MODALITIES}
            for t in uow.biometrics.for_person(person_id):
                if t.key_version == self.matcher.key_version and t.position not in found[t.modality]:
                    found[t.modality].append(t.position)
            return found

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
            hits = self._search(uow, site.program_id, modality, probes, visit.person_id)
            out = self._candidates(uow, modality, hits)
            report_candidates(uow, self.d, actor, visit, Action.IDENTIFY_BIOMETRIC.value, p, out, "biometric")
            uow.commit()
        return out
