"""Enroll a person, read their record, erase them (crypto-shredding).

Demographic duplicate check at enrollment: a person with the same normalized name, birth year and village in
the program (equality of the keyed blind indexes of ``crypto.blind``, no plaintext) refuses the enrollment with
``PossibleDuplicate`` listing them (logged and offered to the visit like a lookup's candidates, so the registrar
can open the existing record), unless the registrar confirms a new person (``confirm_new``, logged as
``duplicate_override_new_person``). The check and the insert run under the program's enrollment lock
(``programs.lock``: a row lock on PostgreSQL, the single writer on SQLite), so parallel look-up-then-enroll
clients make one record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from carekey.crypto.envelope import person_aad
from carekey.domain.consent import Grantor, current_grants
from carekey.domain.ids import new_person_id
from carekey.domain.person import Person
from carekey.domain.purposes import Purpose
from carekey.domain.visit import Visit
from carekey.errors import Conflict, ConsentMissing, InvalidInput, NotFound, PossibleDuplicate, msg
from carekey.policy.decision import Action
from carekey.services.access import DEMOGRAPHIC_CHECK, authorize, count_search, log_access
from carekey.services.consents import ConsentInput, add_consent_rows
from carekey.services.deps import Actor, Deps
from carekey.services.lookup import Candidate, report_candidates
from carekey.services.presence import NO_PROOF, PresenceProof, establish
from carekey.services.records import data_key, load_row, open_person
from carekey.services.visits import load_visit
from carekey.storage.protocols import PersonRow, UnitOfWork

PIN_DIGITS = (6, 8)  # for a PIN set from now on; PINs set earlier (4-5 digits) keep working until changed


@dataclass(frozen=True)
class PersonInput:
    given_name: str
    family_name: str
    sex: str
    birth_year: int
    card_number: str
    birth_date: date | None = None
    district: str = ""
    village: str = ""
    language: str = "en"


@dataclass(frozen=True)
class PersonView:
    person: Person
    consents: frozenset[Purpose]
    enrolled_at: datetime
    last_seen_at: datetime
    enrolled_site: str


def check_pin(pin: str | None) -> None:
    """Policy for a new PIN: 6-8 ASCII digits, not one digit repeated, not a straight run (123456, 987654).
    A 6-digit PIN with the login limit (10 per minute, then lockouts of 1, 2, 4... minutes up to an hour) takes
    an online guesser years on average; 4-digit PINs set before this policy keep working until changed."""
    if pin is None:
        return
    if not (pin.isascii() and pin.isdigit() and PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]):
        raise InvalidInput(msg("a PIN has %(low)s-%(high)s digits", low=PIN_DIGITS[0], high=PIN_DIGITS[1]), field="pin")
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({0}, {1}, {9}):
        raise InvalidInput(
            "this PIN is too easy to guess (one digit repeated or a run like 123456); choose another", field="pin"
        )


def erase_person(uow: UnitOfWork, deps: Deps, person_id: str) -> None:
    """Phase 1 of the two-phase erasure ("mark"), inside the caller's unit of work: delete the person's rows
    (exams, consents, templates, kept images and sessions cascade), replace their id in the access log by a keyed
    pseudonym (``PersonCrypto.log_pseudonym``; the leaves stay as they are) and queue their data key and image key
    for destruction. The caller's commit then destroys the keys and finalizes (phase 2, in the unit of work;
    a crash in between is finished by recovery at start-up and in ``retention run``). So the person is never
    half-erased: before the commit nothing changed, after it they are neither visible nor blocking (their card
    is free), and every copy of their ciphertext is unreadable once phase 2 has run."""
    row = load_row(uow, person_id)
    image_refs = uow.images.key_refs(person_id)
    uow.access_log.pseudonymize(person_id, deps.crypto.log_pseudonym(person_id, row.key_ref))
    uow.images.delete_for_person(person_id)
    uow.biometrics.delete_for_person(person_id)
    uow.people.delete(person_id)
    for key_ref in (row.key_ref, *image_refs):
        uow.shreds.schedule(key_ref)  # destroyed right after the commit: irreversible from then on


class PeopleService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def enroll(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        data: PersonInput,
        consent: ConsentInput,
        pin: str | None = None,
        *,
        confirm_new: bool = False,
    ) -> PersonView:
        """Create the person with the consents given now; ``care_record`` is required (without it nothing
        is stored: record the exam with ``ExamService.screen_without_record`` instead). A refusal for a card
        already enrolled (409) is logged like any other decision; so is a possible duplicate (same name, birth
        year and village; ``confirm_new`` after the registrar checked it is someone else)."""
        try:
            return self._enroll(actor, visit_id, purpose, data, consent, pin, confirm_new)
        except PossibleDuplicate:
            raise  # logged, with its candidates, by the check itself
        except Conflict as err:
            self._log_conflict(actor, visit_id, err)
            raise

    def _enroll(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        data: PersonInput,
        consent: ConsentInput,
        pin: str | None,
        confirm_new: bool = False,
    ) -> PersonView:
        now, person_id = self.d.clock(), new_person_id()
        granted = frozenset(consent.granted)
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.ENROLL, purpose, visit=visit, person_id=person_id, consents=granted)
            if Purpose.CARE_RECORD not in granted:
                raise ConsentMissing(
                    "without care_record consent nothing about the person is stored; "
                    "the exam can still be shown and printed",
                    purpose="care_record",
                )
            assert visit is not None
            site = uow.programs.get_site(visit.site_id)
            program = uow.programs.get_program(site.program_id) if site else None
            if program is None:
                raise NotFound("the visit's site belongs to no program")
            person = Person.create(id=person_id, today=now.date(), **data.__dict__)
            consent.check(program, person.age(now.date()))
            check_pin(pin)
            settings = self.d.settings
            count_search(
                uow,
                now,
                actor,
                DEMOGRAPHIC_CHECK,
                Purpose.CARE_RECORD,
                visit.site_id,
                person_id,
                settings.identifications_per_hour,
                settings.identifications_per_site_per_day,
            )
            uow.programs.lock(program.id)  # the check below and the insert: one enrollment at a time per program
            self._check_demographic(uow, actor, visit, program.id, person, confirm_new)
            key, sealed = self.d.crypto.new_data_key(person_id)
            try:
                ix = self.d.index
                uow.people.add(
                    PersonRow(
                        id=person_id,
                        program_id=program.id,
                        card_bidx=ix.card(person.card_number),
                        name_bidx=ix.name(person.full_name),
                        birth_year_bidx=ix.birth_year(person.birth_year),
                        village_bidx=ix.village(person.village),
                        key_ref=sealed.key_ref,
                        wrapped_key=sealed.wrapped,
                        ciphertext=self.d.crypto.seal_json(key, person.to_dict(), person_aad(person_id)),
                        enrolled_site=visit.site_id,
                        enrolled_at=now,
                        last_seen_at=now,
                        pin_hash=self.d.passwords.hash(pin) if pin else None,
                    )
                )
                add_consent_rows(uow, self.d, key, person_id, consent, now, visit.site_id, actor.user_id)
                uow.visits.save(visit.bind(person_id))
                uow.visits.offer(visit.id, person_id, "enrolled")
                uow.commit()
            except BaseException:
                self.d.crypto.shred(sealed.key_ref)  # nothing was stored; do not leave an orphan secret
                raise
        return PersonView(person, granted, now, now, visit.site_id)

    def _check_demographic(
        self,
        uow: UnitOfWork,
        actor: Actor,
        visit: Visit,
        program_id: str,
        person: Person,
        confirm_new: bool,
    ) -> None:
        ix = self.d.index
        year, village = ix.birth_year(person.birth_year), ix.village(person.village)
        same = [
            r
            for r in uow.people.by_name(program_id, ix.name(person.full_name), 50)
            if r.birth_year_bidx == year and r.village_bidx == village
        ]
        people = [(r.id, open_person(self.d.crypto, r)) for r in same]
        out = sorted(
            (
                Candidate.of(p, 100.0)
                for pid, p in people
                if Purpose.CARE_RECORD in current_grants(uow.consents.history(pid))
            ),
            key=lambda c: c.person_id,
        )[: self.d.settings.max_candidates]
        if not out:
            return
        now = self.d.clock()
        if confirm_new:
            log_access(
                uow,
                now,
                actor,
                "duplicate_override_new_person",
                Purpose.CARE_RECORD.value,
                "granted",
                f"the registrar confirmed a new person ({len(out)} enrolled with the same name, birth year "
                "and village)",
                visit.site_id,
                person.id,
            )
            return
        report_candidates(uow, self.d, actor, visit, Action.ENROLL.value, Purpose.CARE_RECORD, out, "name")
        log_access(
            uow,
            now,
            actor,
            Action.ENROLL.value,
            Purpose.CARE_RECORD.value,
            "denied",
            f"possible duplicate: {len(out)} enrolled person(s) with the same name, birth year and village",
            visit.site_id,
            person.id,
        )
        uow.commit()
        raise PossibleDuplicate(
            msg(
                "%(n)s person(s) with the same name, birth year and village are already enrolled in the program: "
                "open their record if it is them, or confirm a new person",
                n=len(out),
            ),
            candidates=[asdict(c) for c in out],
        )

    def _log_conflict(self, actor: Actor, visit_id: str, err: Conflict) -> None:
        """A refused enrollment (the card is already enrolled) is a decision like any other: log it."""
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            site_id = visit.site_id if visit else None
            log_access(
                uow,
                self.d.clock(),
                actor,
                Action.ENROLL.value,
                "care_record",
                "denied",
                f"enrollment refused: {err.message}",
                site_id,
            )
            uow.commit()

    def read(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str) -> PersonView:
        """The person's record; binds the visit to the person (the registrar's confirmation)."""
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(uow, now, actor, Action.READ_PERSON, purpose, visit=visit, person_id=person_id)
            row = load_row(uow, person_id)
            person = open_person(self.d.crypto, row)
            assert visit is not None
            if visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.people.touch(person_id, now)
            grants = current_grants(uow.consents.history(person_id))
            uow.commit()
        return PersonView(person, grants, row.enrolled_at, now, row.enrolled_site)

    def erase(
        self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, proof: PresenceProof = NO_PROOF
    ) -> None:
        """Erase at the person's request during a visit (crypto-shredding); the person proves they are here."""
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            presence, approver = establish(uow, self.d, actor, visit, person_id, proof)
            authorize(
                uow,
                self.d.clock(),
                actor,
                Action.ERASE,
                purpose,
                visit=visit,
                person_id=person_id,
                presence=presence,
                approver=approver,
            )
            erase_person(uow, self.d, person_id)
            uow.commit()

    def set_pin(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        person_id: str,
        pin: str,
        proof: PresenceProof = NO_PROOF,
    ) -> None:
        """Set or reset the patient PIN (the person's credential for self-service, with their card). The person
        proves they are here (their current PIN, a biometric match in this visit, their enrollment in this visit,
        or a second staff member's approval); every open portal session of theirs ends."""
        check_pin(pin)
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            presence, approver = establish(uow, self.d, actor, visit, person_id, proof)
            authorize(
                uow,
                self.d.clock(),
                actor,
                Action.SET_PIN,
                purpose,
                visit=visit,
                person_id=person_id,
                presence=presence,
                approver=approver,
            )
            load_row(uow, person_id)
            uow.people.set_pin_hash(person_id, self.d.passwords.hash(pin))
            uow.users.end_sessions(person_id=person_id)
            uow.commit()

    def data_key_of(self, uow: UnitOfWork, person_id: str) -> bytes:
        return data_key(self.d.crypto, load_row(uow, person_id))


__all__ = ["ConsentInput", "Grantor", "PeopleService", "PersonInput", "PersonView", "erase_person"]
