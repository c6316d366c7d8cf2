"""Grant and revoke consent (with history).

Revoking ``biometric_identification`` deletes the person's templates and kept images at once (and revokes
``biometric_image_retention`` with it); revoking ``biometric_image_retention`` deletes the kept images. Both in
the transaction that records the revocation; the kept images' key is destroyed right after its commit
(``carekey.services.images.delete_kept_images``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from carekey.domain.consent import (
    ConsentRecord,
    Grantor,
    check_dependencies,
    check_grantor,
    implied_revocations,
    parse_consent_purpose,
)
from carekey.domain.ids import new_id
from carekey.domain.program import Program
from carekey.domain.purposes import CONSENT_PURPOSES, Purpose
from carekey.errors import NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.deps import Actor, Deps
from carekey.services.images import delete_kept_images
from carekey.services.presence import NO_PROOF, PresenceProof, establish
from carekey.services.records import data_key, load_row, open_consent, open_person, seal_grantor
from carekey.services.visits import load_visit
from carekey.storage.protocols import ConsentRow, UnitOfWork


@dataclass(frozen=True)
class ConsentInput:
    """The consent form as signed: purposes granted (others recorded as refused), the notice shown, who signed."""

    granted: tuple[Purpose, ...]
    notice_version: str
    language: str
    grantor: Grantor = field(default_factory=Grantor)

    @classmethod
    def parse(cls, granted: list[str], notice_version: str, language: str, grantor: Grantor) -> ConsentInput:
        return cls(tuple(dict.fromkeys(parse_consent_purpose(p) for p in granted)), notice_version, language, grantor)

    def check(self, program: Program, age: int, current: frozenset[Purpose] = frozenset()) -> None:
        """The notice exists, the grantor may sign at this age, dependent purposes come with what they need
        (``current``: the grants already in force, for a single added grant)."""
        program.check_notice(self.notice_version, self.language)
        check_grantor(self.grantor, age)
        check_dependencies(current | set(self.granted))


def add_consent_rows(
    uow: UnitOfWork,
    deps: Deps,
    key: bytes,
    person_id: str,
    form: ConsentInput,
    now: datetime,
    site_id: str | None,
    user_id: str | None,
    purposes: tuple[Purpose, ...] = CONSENT_PURPOSES,
) -> None:
    revoked = [p for p in purposes if p not in form.granted]
    current = consents_of(uow, person_id)
    purposes += tuple(d for r in revoked for d in implied_revocations(r, current) if d not in purposes)
    version = uow.consents.next_version(person_id)
    for i, purpose in enumerate(purposes):
        cid = new_id("C")
        uow.consents.add(
            ConsentRow(
                id=cid,
                person_id=person_id,
                version=version + i,
                purpose=purpose.value,
                granted=purpose in form.granted,
                notice_version=form.notice_version,
                language=form.language,
                grantor_kind=form.grantor.kind.value,
                grantor_ciphertext=seal_grantor(deps.crypto, key, cid, person_id, form.grantor),
                at=now,
                site_id=site_id,
                user_id=user_id,
            )
        )
    end_processing(uow, person_id, {p for p in purposes if p not in form.granted})


def end_processing(uow: UnitOfWork, person_id: str, ended: Iterable[Purpose]) -> None:
    """What a withdrawal ends, wherever it was decided (here, or on the other side of a sync): without
    ``biometric_identification`` the templates and the sealed offline captures waiting for enrollment go; without
    it or ``biometric_image_retention`` the kept images go (their key destroyed after the commit)."""
    ended = set(ended)
    if Purpose.BIOMETRIC_IDENTIFICATION in ended:
        uow.biometrics.delete_for_person(person_id)
        uow.sync.drop_captures(person_id)
    if ended & {Purpose.BIOMETRIC_IDENTIFICATION, Purpose.BIOMETRIC_IMAGE_RETENTION}:
        delete_kept_images(uow, person_id)


@dataclass(frozen=True)
class ConsentChange:
    """What one consent-screen submission changed."""

    withdrawn: tuple[Purpose, ...]
    granted: tuple[Purpose, ...]


class ConsentService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def decide(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        person_id: str,
        consent_purpose: str,
        granted: bool,
        notice_version: str,
        language: str,
        grantor: Grantor,
        proof: PresenceProof = NO_PROOF,
    ) -> ConsentRecord:
        """Record one grant or revocation. A revocation is accepted from any grantor (withdrawing is never
        harder than granting); a grant follows the age rules, and granting again a purpose the person refused or
        withdrew needs their proof of presence in this visit (staff can never override a withdrawal)."""
        cp = parse_consent_purpose(consent_purpose)
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            regrant = granted and _declined(uow, person_id, cp)
            presence, approver = establish(uow, self.d, actor, visit, person_id, proof) if regrant else (None, None)
            authorize(
                uow,
                now,
                actor,
                Action.RECORD_CONSENT,
                purpose,
                visit=visit,
                person_id=person_id,
                regrant=regrant,
                presence=presence,
                approver=approver,
            )
            assert visit is not None
            row = load_row(uow, person_id)
            key = data_key(self.d.crypto, row)
            form = ConsentInput((cp,) if granted else (), notice_version, language, grantor)
            if granted:
                program = uow.programs.get_program(row.program_id)
                if program is None:
                    raise NotFound("the person's program is missing")
                form.check(program, open_person(self.d.crypto, row, key).age(now.date()), consents_of(uow, person_id))
            add_consent_rows(uow, self.d, key, person_id, form, now, visit.site_id, actor.user_id, (cp,))
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            last = [r for r in uow.consents.history(person_id) if r.purpose == cp.value][-1]
            uow.commit()
        return open_consent(self.d.crypto, key, last)

    def apply(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        person_id: str,
        wanted: Iterable[str],
        notice_version: str,
        language: str,
        grantor: Grantor,
        proof: PresenceProof = NO_PROOF,
    ) -> ConsentChange:
        """One consent-screen submission: ``wanted`` is every purpose ticked. The purposes in force and not
        ticked are withdrawn (from any grantor, dependent purposes with them), the ticked ones not in force are
        granted (age rules, dependencies, and the person's proof of presence when one of them was refused or
        withdrawn before). One policy decision and one log entry for the submission, one transaction: either
        every change is recorded or none is."""
        ticked = frozenset(parse_consent_purpose(p) for p in wanted)
        check_dependencies(ticked)  # e.g. kept images ticked without biometric identification
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            current = consents_of(uow, person_id)
            withdrawn = tuple(p for p in reversed(CONSENT_PURPOSES) if p in current and p not in ticked)
            granted = tuple(p for p in CONSENT_PURPOSES if p not in current and p in ticked)
            if not withdrawn and not granted:
                return ConsentChange((), ())
            regrant = any(_declined(uow, person_id, p) for p in granted)
            presence, approver = establish(uow, self.d, actor, visit, person_id, proof) if regrant else (None, None)
            changes = [f"-{p.value}" for p in withdrawn] + [f"+{p.value}" for p in granted]
            authorize(
                uow,
                now,
                actor,
                Action.RECORD_CONSENT,
                purpose,
                visit=visit,
                person_id=person_id,
                regrant=regrant,
                presence=presence,
                approver=approver,
                detail=f" ({' '.join(changes)})",
            )
            assert visit is not None
            row = load_row(uow, person_id)
            key = data_key(self.d.crypto, row)
            if granted:
                program = uow.programs.get_program(row.program_id)
                if program is None:
                    raise NotFound("the person's program is missing")
                form = ConsentInput(granted, notice_version, language, grantor)
                form.check(
                    program, open_person(self.d.crypto, row, key).age(now.date()), current - frozenset(withdrawn)
                )
            if withdrawn:  # withdrawals first: withdrawing never waits on a grant
                add_consent_rows(
                    uow,
                    self.d,
                    key,
                    person_id,
                    ConsentInput((), notice_version, language, Grantor()),
                    now,
                    visit.site_id,
                    actor.user_id,
                    withdrawn,
                )
            if granted:
                add_consent_rows(uow, self.d, key, person_id, form, now, visit.site_id, actor.user_id, granted)
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return ConsentChange(withdrawn, granted)

    def history(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str) -> list[ConsentRecord]:
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.READ_PERSON, purpose, visit=visit, person_id=person_id)
            row = load_row(uow, person_id)
            key = data_key(self.d.crypto, row)
            rows = uow.consents.history(person_id)
            assert visit is not None
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
        return [open_consent(self.d.crypto, key, r) for r in rows]


def _declined(uow: UnitOfWork, person_id: str, purpose: Purpose) -> bool:
    """The person's latest decision on ``purpose`` is a refusal or a withdrawal."""
    latest = [r for r in uow.consents.history(person_id) if r.purpose == purpose.value]
    return bool(latest) and not latest[-1].granted
