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
the program (``MatcherPort.duplicate_search``, the same scoring as ``identify``) under the program's enrollment lock
(``programs.lock``), so two registrars capturing the same finger at the same moment are checked one after the
other. A hit above threshold is refused with ``PossibleDuplicate`` listing the candidates (same fields and limit
as identification, each logged as shown and offered to the visit); the registrar then either confirms the person
is one of them (``confirm_duplicate``: the record made in this visit is erased and the visit serves the existing
person) or overrides with a reason from ``OVERRIDE_REASONS`` (logged as ``duplicate_override_<reason>`` and
counted per program by ``override_counts``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from carekey.audit.receipt import Receipt, scope_tag
from carekey.biometrics.feed import Progress, TemplateFeed
from carekey.biometrics.image_header import check_pixels
from carekey.biometrics.modality import MODALITIES, Modality
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.errors import (
    CaptureRejected,
    Conflict,
    ConsentMissing,
    Forbidden,
    InvalidInput,
    NotFound,
    PossibleDuplicate,
    msg,
)
from carekey.policy.decision import Action, Presence
from carekey.services.access import BIOMETRIC_CHECK, authorize, consents_of, count_search, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.images import keep_image
from carekey.services.lookup import Candidate, report_candidates
from carekey.services.matcher import as_port
from carekey.services.people import erase_person
from carekey.services.records import data_key, load_row, open_person_or_none
from carekey.services.visits import load_visit
from carekey.storage.protocols import CaptureRow, TemplateRow, UnitOfWork

SHORTLIST = 200  # best templates per probed position fused into per-person scores: a person outside the top 200
# of one position counts 0 there (as a position they have no template for)
POSITIONS = {
    "fingerprint": ("right_index", "left_index", "right_thumb", "left_thumb", "right_middle", "left_middle"),
    "iris": ("right_eye", "left_eye"),
}
OVERRIDE_REASONS = {
    "twins": "the person is a twin of the candidate",
    "false_match": "the registrar checked with the person: not the candidate (false match)",
}
OVERRIDE_ACTION = "duplicate_override_"  # + reason: the logged action of an override, counted per program


@dataclass(frozen=True)
class OfflineOutcome:
    """What the central enrollment of an offline capture gave (``BiometricService.enroll_offline``)."""

    status: str  # "enrolled", "duplicate" (not stored: a task for the node), "recapture", "refused"
    reason: str
    candidates: tuple[tuple[str, float], ...] = ()  # duplicate: (person id, calibrated score), codes only
    template_id: str | None = None


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

    def search(
        self,
        program_id: str,
        modality: str,
        probe: bytes,
        position: str | None = None,
        among: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(template id, score) of the program's templates, best first, after catching up on the feed: of
        ``position`` only if given, of the template ids ``among`` only if given. A matcher with a 1:N index may
        leave out templates its pre-filter ruled out (they score below any threshold)."""
        ...

    def threshold(self, modality: str) -> float:
        """The decision threshold on ``search`` scores for this modality."""
        ...

    def calibrated(self, modality: str, score: float) -> float:
        """A ``search`` score as shown to the health worker: 0-100, monotonic, from the matcher's impostor
        distribution (optional: a matcher without it shows its raw score x 100)."""
        ...


def _program_of(uow: UnitOfWork, person_id: str) -> str:
    """The person's program (the scope of their biometric log receipt); an unknown person is refused later."""
    row = uow.people.get(person_id)
    return row.program_id if row is not None else ""


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
        """The matcher follows the database's template feed (its gallery is its own, never handed over). An
        engine runs embedded; a remote matcher (``carekey matcher serve``) follows the feed in its own process.
        Every step goes through ``self.port`` with the log receipt of the decision that allowed it."""
        port = as_port(matcher)
        if self.d.template_feed is not None:
            port.follow(self.d.template_feed)
        self._matcher, self.port = matcher, port

    def warm_up(self, progress: Progress | None = None) -> int:
        """Load the matcher's gallery (server start-up); returns the number of templates indexed."""
        return self.port.build(progress)

    def enroll(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        person_id: str,
        modality: str,
        position: str,
        image: bytes,
        *,
        override: str | None = None,
        replace: bool = False,
    ) -> str:
        """Store one protected template. The first template of a modality runs the duplicate check (see the module
        docstring; ``override``: a key of ``OVERRIDE_REASONS`` after a ``PossibleDuplicate``). A position already
        enrolled is a ``Conflict`` unless ``replace`` (the registrar confirmed the recapture)."""
        modality, now = _modality(modality), self.d.clock()
        position = position.strip()[:40]  # the interfaces offer POSITIONS; older callers name eyes "left"/"right"
        if not position:
            raise InvalidInput("name the finger or eye (position)", field="position")
        if override is not None and override not in OVERRIDE_REASONS:
            raise InvalidInput(
                msg("override must be one of %(choices)s", choices=", ".join(OVERRIDE_REASONS)), field="override"
            )
        receipts: list[Receipt] = []
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            program_id = _program_of(uow, person_id)
            p = authorize(
                uow,
                now,
                actor,
                Action.ENROLL_BIOMETRIC,
                purpose,
                visit=visit,
                person_id=person_id,
                detail=scope_tag(program_id, modality),
                receipts=receipts,
            )
            load_row(uow, person_id)
            first = not self._positions(uow, person_id, modality)
            assert visit is not None  # authorize refused a missing visit
            if first:  # this capture will search the program for duplicates: a search like an identification
                settings = self.d.settings
                count_search(
                    uow,
                    now,
                    actor,
                    BIOMETRIC_CHECK,
                    p,
                    visit.site_id,
                    person_id,
                    settings.identifications_per_hour,
                    settings.identifications_per_site_per_day,
                )
            uow.commit()  # the granted attempt is logged, whatever the capture gives
        receipt = receipts[-1] if receipts else None
        # extraction (and, for a person's first template of the modality, the duplicate probe) outside any
        # transaction: CaptureRejected leaves the attempt logged; a matcher down (MatcherUnavailable) stores nothing
        check_pixels(image, self.d.settings.max_image_pixels, strict=False)
        made = self.port.enroll(receipt, program_id, modality, image, first)
        protected, probe = made.template, made.probe
        with self.d.uow() as uow:
            visit, row = load_visit(uow, visit_id), load_row(uow, person_id)
            assert visit is not None
            consents = consents_of(uow, person_id)
            if Purpose.BIOMETRIC_IDENTIFICATION not in consents:  # revoked while the image was being extracted
                raise ConsentMissing(
                    "biometric identification consent was withdrawn during the capture",
                    purpose=Purpose.BIOMETRIC_IDENTIFICATION.value,
                )
            uow.programs.lock(row.program_id)  # check and store one at a time per program (racing registrars)
            mine = self._positions(uow, person_id, modality)
            if position in mine:
                if not replace:
                    raise Conflict(
                        msg(
                            "%(modality)s %(position)s is already enrolled: confirm to replace it",
                            modality=modality,
                            position=position.replace("_", " "),
                        ),
                        field="position",
                    )
                uow.biometrics.delete_position(person_id, modality, position)
                uow.images.delete_position(person_id, modality, position)
            if not mine:  # the person's first template of the modality: is the finger or eye someone else's?
                if probe is None:  # their templates were deleted since the first step (rare): probe now (a remote
                    # matcher refuses a second use of the receipt: the registrar captures again)
                    probe = self.port.enroll(receipt, row.program_id, modality, image, True).probe
                    assert probe is not None
                self._check_duplicates(
                    uow, actor, visit, p, row.program_id, person_id, modality, probe, override, receipt
                )
            template = TemplateRow(new_id("T"), person_id, modality, position, made.key_version, protected, now)
            uow.biometrics.add(template)
            if Purpose.BIOMETRIC_IMAGE_RETENTION in consents:
                keep_image(uow, self.d.crypto, data_key(self.d.crypto, row), template, bytes(image), now)
            uow.biometrics.delete_retired(self.matcher.key_version, person_id=person_id, modality=modality)
            assert visit is not None
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return template.id

    def enroll_offline(
        self, actor: Actor, site_id: str, capture: CaptureRow, image: bytes, *, override: str | None = None
    ) -> OfflineOutcome:
        """The central enrollment of a capture made offline on the node of ``site_id`` (issue 19, docs/sync.md),
        on behalf of the registrar who made it: decided as ``enroll_offline_capture`` (their account works at the
        node's site, the person grants ``biometric_identification`` now) and logged as ``enroll_biometric`` (the
        step the matcher's receipt names), then the same extraction, duplicate check of the program and storage as
        ``enroll``. Never raises for the capture's own fate: a refusal, an unusable image or a possible duplicate
        is the outcome, which the sync turns into a task for the person's next visit on the node. Candidates are
        logged as shown (the candidates see it in their access list) and leave as codes only."""
        modality, now = _modality(capture.modality), self.d.clock()
        pid, position = capture.person_id, capture.position.strip()[:40]
        receipts: list[Receipt] = []
        with self.d.uow() as uow:
            program_id = _program_of(uow, pid)
            try:
                p = authorize(
                    uow,
                    now,
                    actor,
                    Action.ENROLL_OFFLINE_CAPTURE,
                    Purpose.BIOMETRIC_IDENTIFICATION.value,
                    site_id=site_id,
                    person_id=pid,
                    logged_action=Action.ENROLL_BIOMETRIC.value,
                    detail=f"; offline capture {capture.id} made at site {site_id} on "
                    f"{capture.captured_at:%Y-%m-%d %H:%M}" + scope_tag(program_id, modality),
                    receipts=receipts,
                )
            except Forbidden as err:
                return OfflineOutcome("refused", err.message)
            load_row(uow, pid)
            first = not self._positions(uow, pid, modality)
            uow.commit()
        receipt = receipts[-1] if receipts else None
        try:
            check_pixels(image, self.d.settings.max_image_pixels, strict=False)
            made = self.port.enroll(receipt, program_id, modality, image, first)
        except CaptureRejected as err:
            return OfflineOutcome("recapture", err.message)
        with self.d.uow() as uow:
            row = load_row(uow, pid)
            consents = consents_of(uow, pid)
            if Purpose.BIOMETRIC_IDENTIFICATION not in consents:
                return OfflineOutcome("refused", "biometric identification consent was withdrawn")
            uow.programs.lock(row.program_id)
            mine = self._positions(uow, pid, modality)
            if position in mine:
                return OfflineOutcome("refused", f"{modality} {position} was already enrolled: the capture is dropped")
            if not mine:
                probe = made.probe
                if probe is None:
                    probe = self.port.enroll(receipt, row.program_id, modality, image, True).probe
                    assert probe is not None
                found = self.port.duplicate_search(receipt, row.program_id, modality, probe)[:SHORTLIST]
                hits = [(other, sc) for other, sc in self._fuse(uow, modality, {"": found}) if other != pid]
                out = self._candidates(uow, modality, hits)
                if out and override is None:
                    for c in out:
                        log_access(
                            uow,
                            now,
                            actor,
                            "enroll_biometric_result",
                            p.value,
                            "granted",
                            f"a possible duplicate of an offline capture made at site {site_id} (code only)",
                            site_id,
                            c.person_id,
                        )
                    reason = f"possible duplicate: {len(out)} enrolled person(s) match this {modality}"
                    log_access(uow, now, actor, Action.ENROLL_BIOMETRIC.value, p.value, "denied", reason, site_id, pid)
                    uow.commit()
                    return OfflineOutcome("duplicate", reason, tuple((c.person_id, c.score) for c in out))
                if out and override is not None:
                    log_access(
                        uow,
                        now,
                        actor,
                        OVERRIDE_ACTION + override,
                        p.value,
                        "granted",
                        f"duplicate check overridden on the node: {OVERRIDE_REASONS[override]} "
                        f"({len(out)} candidate(s) above threshold)",
                        site_id,
                        pid,
                    )
            template = TemplateRow(new_id("T"), pid, modality, position, made.key_version, made.template, now)
            uow.biometrics.add(template)
            if Purpose.BIOMETRIC_IMAGE_RETENTION in consents:
                keep_image(uow, self.d.crypto, data_key(self.d.crypto, row), template, bytes(image), now)
            uow.biometrics.delete_retired(self.matcher.key_version, person_id=pid, modality=modality)
            uow.commit()
        return OfflineOutcome("enrolled", "enrolled centrally", template_id=template.id)

    def _positions(self, uow: UnitOfWork, person_id: str, modality: str) -> set[str]:
        """The positions of the modality the person has a current-key-version template for."""
        return {
            t.position
            for t in uow.biometrics.for_person(person_id)
            if t.modality == modality and t.key_version == self.matcher.key_version
        }

    def _check_duplicates(
        self,
        uow: UnitOfWork,
        actor: Actor,
        visit: Visit,
        purpose: Purpose,
        program_id: str,
        person_id: str,
        modality: str,
        probe: bytes,
        override: str | None,
        receipt: Receipt | None = None,
    ) -> None:
        """Refuse (logged, committed) when the probe matches other people of the program, unless overridden.
        Runs under the program's enrollment lock: the matcher catches up on the template feed first, so a
        template another registrar stored a moment ago is searched too."""
        per_position = {"": self.port.duplicate_search(receipt, program_id, modality, probe)[:SHORTLIST]}
        hits = [(pid, sc) for pid, sc in self._fuse(uow, modality, per_position) if pid != person_id]
        out = self._candidates(uow, modality, hits)
        if not out:
            return
        if override is not None:
            log_access(
                uow,
                self.d.clock(),
                actor,
                OVERRIDE_ACTION + override,
                purpose.value,
                "granted",
                f"duplicate check overridden: {OVERRIDE_REASONS[override]} ({len(out)} candidate(s) above threshold)",
                visit.site_id,
                person_id,
            )
            return
        report_candidates(uow, self.d, actor, visit, Action.ENROLL_BIOMETRIC.value, purpose, out, "duplicate")
        log_access(
            uow,
            self.d.clock(),
            actor,
            Action.ENROLL_BIOMETRIC.value,
            purpose.value,
            "denied",
            f"possible duplicate: {len(out)} enrolled person(s) match this {modality}",
            visit.site_id,
            person_id,
        )
        uow.commit()
        raise PossibleDuplicate(
            msg(
                "this %(modality)s matches %(n)s person(s) already enrolled in the program: "
                "confirm who the person is, or override with a reason (%(reasons)s)",
                modality=modality,
                n=len(out),
                reasons=", ".join(OVERRIDE_REASONS),
            ),
            candidates=[asdict(c) for c in out],
        )

    def _fuse(
        self, uow: UnitOfWork, modality: str, per_position: Mapping[str, list[tuple[str, float]]]
    ) -> list[tuple[str, float]]:
        """(person id, fused score) above threshold, best first: per-position best scores of a person fused by
        the mean rule (a probed position the person has no template for counts 0). Templates deleted since the
        search are left out."""
        owner = uow.biometrics.owners([ref for found in per_position.values() for ref, _ in found])
        best: dict[str, dict[str, float]] = {}
        for pos, found in per_position.items():
            mine = best.setdefault(pos, {})
            for ref, score in found:
                if ref in owner:
                    mine[owner[ref]] = max(mine.get(owner[ref], score), score)
        people = {pid for found in best.values() for pid in found}
        fused = {pid: sum(f.get(pid, 0.0) for f in best.values()) / max(1, len(best)) for pid in people}
        threshold = self.port.threshold(modality)
        return sorted(((pid, sc) for pid, sc in fused.items() if sc >= threshold), key=lambda kv: (-kv[1], kv[0]))

    def _candidates(self, uow: UnitOfWork, modality: str, hits: list[tuple[str, float]]) -> list[Candidate]:
        """At most ``max_candidates`` people who still consent to biometric identification, best first, with the
        calibrated 0-100 score."""
        out: list[Candidate] = []
        for pid, score in hits:
            person = open_person_or_none(self.d.crypto, load_row(uow, pid))
            if person is not None and Purpose.BIOMETRIC_IDENTIFICATION in consents_of(uow, pid):
                out.append(Candidate.of(person, self.port.calibrated(modality, score)))
            if len(out) == self.d.settings.max_candidates:
                break
        return out

    def confirm_duplicate(
        self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, existing_id: str
    ) -> None:
        """The registrar confirms that the person enrolled in this visit (``person_id``) is ``existing_id``, a
        candidate of this visit's duplicate check: the new record is erased (crypto-shredded, nothing of it is
        copied anywhere) and the visit serves the existing person. Both steps are policy decisions, logged."""
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            offers = uow.visits.offers(visit_id) if visit else {}
            if visit is None or offers.get(person_id) != "enrolled" or offers.get(existing_id) != "duplicate":
                raise Conflict(
                    "only a person enrolled in this visit can be merged into a candidate its duplicate check offered"
                )
            authorize(
                uow,
                now,
                actor,
                Action.ERASE,
                Purpose.CARE_RECORD.value,
                visit=visit,
                person_id=person_id,
                presence=Presence.ENROLLED,
                logged_action="discard_duplicate_enrollment",
                detail="; the person is already enrolled (confirmed in this visit)",
            )
            load_row(uow, person_id)
            erase_person(uow, self.d, person_id)
            unbound = replace(visit, person_id=None)
            authorize(
                uow,
                now,
                actor,
                Action.READ_PERSON,
                purpose,
                visit=unbound,
                person_id=existing_id,
                logged_action="confirm_duplicate",
            )
            uow.visits.save(unbound.bind(existing_id))
            uow.commit()

    def override_counts(self, program_id: str, since: datetime | None = None) -> dict[str, int]:
        """How many duplicate checks the program's registrars overrode, per reason (no person named)."""
        with self.d.uow() as uow:
            sites = [s.id for s in uow.programs.list_sites() if s.program_id == program_id]
            start = since or datetime(2000, 1, 1, tzinfo=UTC)
            return {
                reason: sum(uow.access_log.count_site_since(site, [OVERRIDE_ACTION + reason], start) for site in sites)
                for reason in OVERRIDE_REASONS
            }

    def enrolled_positions(self, person_id: str) -> dict[str, list[str]]:
        """Which fingers and eyes of the person have a current template (modality -> positions); for the visit
        page of a person the caller is already authorized to see (no template bytes leave)."""
        with self.d.uow() as uow:
            found: dict[str, list[str]] = {m: [] for m in MODALITIES}
            for t in uow.biometrics.for_person(person_id):
                if t.key_version == self.matcher.key_version and t.position not in found[t.modality]:
                    found[t.modality].append(t.position)
            return found

    def identify(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        modality: str,
        image: bytes | Mapping[str, bytes],
        *,
        person_agreed: bool,
    ) -> list[Candidate]:
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
        receipts: list[Receipt] = []
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            site = uow.programs.get_site(visit.site_id) if visit is not None else None
            p = authorize(
                uow,
                self.d.clock(),
                actor,
                Action.IDENTIFY_BIOMETRIC,
                purpose,
                visit=visit,
                per_hour=self.d.settings.identifications_per_hour,
                per_site_day=self.d.settings.identifications_per_site_per_day,
                person_agreed=person_agreed,
                detail=scope_tag(site.program_id, modality) if site is not None else "",
                receipts=receipts,
            )
            assert visit is not None
            if site is None:
                raise NotFound("the visit's site belongs to no program")
            # on a visit already serving a person, only that person (a verification: the biometric proof of
            # presence), never a search of everyone else
            among = (
                None
                if visit.person_id is None
                else [
                    r.id
                    for r in uow.biometrics.for_person(visit.person_id)
                    if r.modality == modality and r.key_version == self.matcher.key_version
                ]
            )
            uow.commit()
        for img in images.values():
            check_pixels(img, self.d.settings.max_image_pixels, strict=False)
        receipt = receipts[-1] if receipts else None
        per_position = self.port.identify(receipt, site.program_id, modality, images, among, SHORTLIST)
        with self.d.uow() as uow:
            hits = self._fuse(uow, modality, per_position)
            out = self._candidates(uow, modality, hits)
            visit = load_visit(uow, visit_id)
            assert visit is not None
            report_candidates(uow, self.d, actor, visit, Action.IDENTIFY_BIOMETRIC.value, p, out, "biometric")
            uow.commit()
        return out
