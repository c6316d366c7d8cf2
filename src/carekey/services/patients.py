"""Patients' rights: the person, signed in with card number + PIN, reads their own record, exams and
consents, revokes a consent or says yes again, sees every access to their data with a proof, exports it,
asks for erasure.

Every call passes ``authorize`` (purpose patient_access, actor = the person) and is itself logged.
Functions the web UI calls: ``login``, ``authenticate``, ``logout``, ``record``, ``consents``, ``revoke``, ``grant``,
``accesses``, ``export``, ``erase``; ``carekey.audit.proofs.verify_access_receipt`` checks a receipt.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from carekey.audit.merkle import MerkleLog
from carekey.audit.promise import EntryPromise
from carekey.audit.proofs import InclusionReceipt, access_receipt
from carekey.audit.sth import SignedTreeHead, trusted_keys
from carekey.domain.consent import ADULT_AGE, ConsentRecord, Grantor, current_grants, parse_consent_purpose
from carekey.domain.exam import Exam
from carekey.domain.person import Person, normalize_card
from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.domain.referral import Referral
from carekey.errors import InvalidInput, NotAuthenticated, NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.auth import LoginLimiter, address_key, live_session, token_hash
from carekey.services.consents import ConsentInput, add_consent_rows
from carekey.services.deps import Actor, Deps
from carekey.services.people import erase_person
from carekey.services.records import data_key, load_row, open_consent, open_exam, open_person
from carekey.services.referrals import open_referrals
from carekey.services.sync_central import disclosure_aad
from carekey.services.transparency import publish_head, record_heads
from carekey.storage.protocols import PersonRow, SessionRow, UnitOfWork

PURPOSE = Purpose.PATIENT_ACCESS.value


@dataclass(frozen=True)
class Patient:
    """The signed-in person. As an actor in the access log: role ``patient``, actor id = their program id."""

    person_id: str

    @property
    def actor(self) -> Actor:
        return Actor(self.person_id, self.person_id, Role.PATIENT, frozenset())


@dataclass(frozen=True)
class PatientToken:
    token: str
    expires_at: datetime
    person_id: str
    language: str | None = None  # the language of the person's latest consent notice


@dataclass(frozen=True)
class PatientRecord:
    person: Person
    consents: frozenset[Purpose]
    exams: list[Exam]
    enrolled_at: datetime
    enrolled_site: str
    images_kept: int = 0  # enrollment images kept at the person's request (biometric_image_retention)
    referrals: tuple[Referral, ...] = ()  # where a clinician sent them, why, how urgently, and whether it is closed


@dataclass(frozen=True)
class AccessView:
    """One access to the person's data, with its inclusion receipt (verify with the published public key)."""

    seq: int
    event: dict[str, object]
    salt: bytes | None
    receipt: InclusionReceipt
    promise: EntryPromise | None = None  # signed when the access was logged (None: logged before promises)
    promise_kept: bool | None = None  # the promise is valid and its entry was in a signed head within the delay
    log: str = "central"  # whose log holds the entry: this registry's, or a site node's id (issue 19)
    log_public_key: str | None = None  # a node's log key (hex) that signed the head of the receipt

    def to_dict(self) -> dict[str, object]:
        out = access_receipt(self.event, self.salt, self.receipt)
        if self.log != "central":
            out["log"], out["log_public_key"] = self.log, self.log_public_key
        if self.promise is not None:
            out["promise"] = self.promise.to_dict()
            out["promise_kept"] = self.promise_kept
        return out


def exam_dict(e: Exam) -> dict[str, object]:
    return {
        "id": e.id,
        "recorded_at": e.recorded_at.isoformat(),
        "site_id": e.site_id,
        "bmi": e.bmi,
        "notes": e.notes,
        "observations": e.observations(),
    }


def consent_dict(c: ConsentRecord) -> dict[str, object]:
    return {
        "id": c.id,
        "purpose": c.purpose.value,
        "granted": c.granted,
        "at": c.at.isoformat(),
        "notice_version": c.notice_version,
        "language": c.language,
        "grantor": c.grantor.kind.value,
        "site_id": c.site_id,
        "by": c.user_id or "the person",
    }


class PatientService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.limiter = LoginLimiter(deps)

    # -- credential ---------------------------------------------------------------------------------
    def _by_card(self, uow: UnitOfWork, card_number: str, program_id: str | None) -> list[PersonRow]:
        """The people holding this card (one per program at most; ``program_id`` narrows it to one program)."""
        bidx = self.d.index.card(card_number)
        programs = [program_id] if program_id else [p.id for p in uow.programs.list_programs()]
        return [r for p in programs if (r := uow.people.by_card(p, bidx)) is not None]

    def login(self, card_number: str, pin: str, client: str = "local", program_id: str | None = None) -> PatientToken:
        """Card number + PIN -> an opaque token (stored hashed) for ``patient_token_minutes``; failures are
        rate-limited per card and per client address, like staff logins. The PIN is checked outside any
        transaction, within the hashing gate (``carekey.services.auth``)."""
        with self.d.hashing.admit():
            return self._login(card_number, pin, client, program_id)

    def _login(self, card_number: str, pin: str, client: str, program_id: str | None) -> PatientToken:
        now = self.d.clock()
        card, addr = f"card:{normalize_card(card_number)}", f"patient-addr:{address_key(client)}"  # N-100000 = N100000
        self.limiter.acquire(card, addr, now)
        with self.d.uow(read_only=True) as uow:
            rows = self._by_card(uow, card_number, program_id)
        with self.d.hashing.hashing():  # outside any transaction, in the bounded hashing gate
            # every holder's PIN is checked (an unknown card costs one dummy check), and only a PIN that opens
            # exactly one of them signs in: the answer does not tell whether the card exists, or in how many
            # programs, to someone who does not know the PIN
            matching = [r for r in rows if self.d.passwords.verify(r.pin_hash, pin)] if rows else []
            if not rows:
                self.d.passwords.verify(None, pin)
        if len(matching) > 1:
            raise InvalidInput("this card number and PIN open records in several programs; name the program")
        row = matching[0] if matching else None
        if row is None or row.pin_hash is None:
            raise NotAuthenticated("wrong card number or PIN (a registrar can set a PIN during a visit)")
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(minutes=self.d.settings.patient_token_minutes)
        with self.d.uow() as uow:
            if uow.people.get(row.id) is None:  # erased while the PIN was checked
                raise NotAuthenticated("wrong card number or PIN (a registrar can set a PIN during a visit)")
            uow.users.add_session(SessionRow(token_hash(token), None, row.id, now, expires))
            uow.users.purge_sessions(now)
            history = uow.consents.history(row.id)
            # a card held in several programs is not cleared by one holder's PIN (another program's registrar
            # could enroll a copy of the card with a PIN they know, and wipe a guesser's strikes with it)
            self.limiter.succeeded_in(uow, card, addr, now, clear=len(rows) == 1)
            uow.commit()
        # the language the person heard their notice in: the portal speaks it (the switch changes it)
        return PatientToken(token, expires, row.id, history[-1].language if history else None)

    def authenticate(self, token: str) -> Patient:
        now = self.d.clock()
        session = live_session(
            self.d,
            token,
            now,
            staff=False,
            unknown="unknown patient token; sign in with your card number and PIN",
            expired="session expired; sign in again",
        )
        assert session.person_id is not None  # checked_session(staff=False) refuses a session of no person
        return Patient(session.person_id)

    def logout(self, token: str) -> None:
        with self.d.uow() as uow:
            uow.users.delete_session(token_hash(token))
            uow.commit()

    # -- rights ---------------------------------------------------------------------------------------
    def _gate(self, uow: UnitOfWork, patient: Patient, action: Action) -> None:
        authorize(uow, self.d.clock(), patient.actor, action, PURPOSE, person_id=patient.person_id)

    def record(self, patient: Patient) -> PatientRecord:
        """The person's record and all their exams."""
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_READ)
            row = load_row(uow, patient.person_id)
            key = data_key(self.d.crypto, row)
            exams, grants = uow.exams.for_person(row.id), current_grants(uow.consents.history(row.id))
            images = uow.images.count_for_person(row.id)
            referrals = uow.referrals.for_person(row.id)
            uow.commit()
        return PatientRecord(
            open_person(self.d.crypto, row, key),
            grants,
            [open_exam(self.d.crypto, key, e) for e in exams],
            row.enrolled_at,
            row.enrolled_site,
            images,
            tuple(open_referrals(self.d, key, referrals)),
        )

    def consents(self, patient: Patient) -> list[ConsentRecord]:
        """Every consent decision, oldest first (the latest per purpose is in force)."""
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_READ)
            key = data_key(self.d.crypto, load_row(uow, patient.person_id))
            rows = uow.consents.history(patient.person_id)
            uow.commit()
        return [open_consent(self.d.crypto, key, r) for r in rows]

    def revoke(self, patient: Patient, consent_purpose: str) -> ConsentRecord:
        """Withdraw one consent now; revoking biometric_identification deletes the templates and kept images,
        revoking biometric_image_retention the kept images, in this transaction. Takes effect on the very next
        request of anyone."""
        cp = parse_consent_purpose(consent_purpose)
        now = self.d.clock()
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_REVOKE)
            row = load_row(uow, patient.person_id)
            key = data_key(self.d.crypto, row)
            history = uow.consents.history(row.id)
            last = history[-1] if history else None
            form = ConsentInput((), last.notice_version if last else "v1", last.language if last else "en", Grantor())
            add_consent_rows(uow, self.d, key, row.id, form, now, None, None, (cp,))
            newest = [r for r in uow.consents.history(row.id) if r.purpose == cp.value][-1]
            uow.commit()
        return open_consent(self.d.crypto, key, newest)

    def grant(self, patient: Patient, consent_purpose: str) -> ConsentRecord:
        """Say yes again to one purpose the person refused or withdrew, from their own portal session (card and
        PIN are the proof that it is them). Staff can never re-grant without the person's proof in a visit; this
        is the path for a person who withdrew ``care_record`` and is therefore no longer found by lookups.
        Adults only: a person under 18 decides with a guardian, at a screening. The notice is the one of the
        person's last decision (version and language) while the program keeps it in force, else the newest."""
        cp = parse_consent_purpose(consent_purpose)
        now = self.d.clock()
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_GRANT)
            row = load_row(uow, patient.person_id)
            key = data_key(self.d.crypto, row)
            history = uow.consents.history(row.id)
            current = current_grants(history)
            if cp in current:
                raise InvalidInput(f"{cp.value} is already granted", field="purpose")
            program = uow.programs.get_program(row.program_id)
            if program is None:
                raise NotFound("the person's program is missing")
            last = history[-1] if history else None
            language = last.language if last and last.language in program.languages else program.languages[0]
            version = last.notice_version if last and last.notice_version in program.notice_versions else None
            form = ConsentInput((cp,), version or program.notice_versions[-1], language, Grantor())
            age = open_person(self.d.crypto, row, key).age(now.date())
            if age < ADULT_AGE:
                raise InvalidInput(
                    "a person under 18 says yes again at a screening, together with a parent or guardian",
                    field="purpose",
                )
            form.check(program, age, current)
            add_consent_rows(uow, self.d, key, row.id, form, now, None, None, (cp,))
            newest = [r for r in uow.consents.history(row.id) if r.purpose == cp.value][-1]
            uow.commit()
        return open_consent(self.d.crypto, key, newest)

    def accesses(self, patient: Patient) -> list[AccessView]:
        """Every logged access to the person's data (including this one), each with an inclusion receipt
        against a signed tree head published in the same transaction."""
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_READ)
            views = self._accesses(uow, patient.person_id)
            uow.commit()
        if views and views[0].log == "central":  # a node's head is the node's, not this log's
            record_heads(self.d, views[0].receipt.sth)
        return views

    def _accesses(self, uow: UnitOfWork, person_id: str) -> list[AccessView]:
        sth = publish_head(uow, self.d)  # integrates every entry committed so far, this read's included
        tree = uow.access_log.tree()
        keys = trusted_keys(self.d.signer.public_key, uow.log_keys.all()) if self.d.signer else {}
        out = []
        for e in uow.access_log.for_person(person_id):
            if e.event.seq is not None and e.event.seq < sth.size:  # later ones are in the next view
                kept = (
                    None
                    if e.promise is None
                    else (
                        e.promise.verify(keys)
                        and e.promise.covers(e.leaf_input)
                        and e.promise.kept_by(uow.tree_heads.first_covering(e.event.seq))
                    )
                )
                out.append(
                    AccessView(
                        e.event.seq,
                        e.event.leaf_event(),
                        e.salt,
                        InclusionReceipt.issue(tree, e.event.seq, e.leaf_input, sth),
                        e.promise,
                        kept,
                    )
                )
        return out + self._node_accesses(uow, person_id)

    def _node_accesses(self, uow: UnitOfWork, person_id: str) -> list[AccessView]:
        """Accesses made on site nodes (issue 19): the entries each node disclosed at its pushes, each with an
        inclusion receipt in that node's log under the node's last signed head the central registry accepted
        (after checking its consistency); verify with the node's log key (``log_public_key``)."""
        held = uow.sync.disclosures_of(person_id)
        if not held:
            return []
        row = load_row(uow, person_id)
        key = data_key(self.d.crypto, row)
        trees: dict[str, tuple[MerkleLog, list[bytes], SignedTreeHead, str] | None] = {}
        out = []
        for node_id, idx, sealed in held:
            if node_id not in trees:
                node = uow.sync.get_node(node_id)
                if node is None or node.log_head is None:
                    trees[node_id] = None
                else:
                    head, leaves = SignedTreeHead.from_json(node.log_head), uow.sync.node_leaves(node_id)
                    tree = MerkleLog()
                    tree.extend(leaves[: head.size])
                    trees[node_id] = (tree, leaves, head, node.log_public_key)
            known = trees[node_id]
            if known is None or idx >= known[2].size:
                continue
            tree, leaves, head, log_key = known
            opened = self.d.crypto.open_json(key, sealed, disclosure_aad(node_id, idx, person_id))
            if not isinstance(opened, dict):
                continue
            receipt = InclusionReceipt.issue(tree, idx, leaves[idx], head)
            salt = bytes.fromhex(str(opened["salt"]))
            out.append(AccessView(idx, dict(opened["event"]), salt, receipt, None, None, node_id, log_key))
        return out

    def export(self, patient: Patient) -> dict[str, object]:
        """Everything carekey holds about the person, as JSON-ready data (their copy; logged)."""
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_EXPORT)
            row = load_row(uow, patient.person_id)
            key = data_key(self.d.crypto, row)
            exams, consents = uow.exams.for_person(row.id), uow.consents.history(row.id)
            referrals = open_referrals(self.d, key, uow.referrals.for_person(row.id))
            templates, images = uow.biometrics.for_person(row.id), uow.images.for_person(row.id)
            views = self._accesses(uow, row.id)
            uow.commit()
        if views and views[0].log == "central":  # a node's head is the node's, not this log's
            record_heads(self.d, views[0].receipt.sth)
        return {
            "format": "carekey-export-v1",
            "exported_at": self.d.clock().isoformat(),
            "person": open_person(self.d.crypto, row, key).to_dict() | {"id": row.id},
            "enrolled_at": row.enrolled_at.isoformat(),
            "enrolled_site": row.enrolled_site,
            "exams": [exam_dict(open_exam(self.d.crypto, key, e)) for e in exams],
            "referrals": [
                {
                    "id": r.id,
                    "recorded_at": r.recorded_at.isoformat(),
                    "site": r.site_id,
                    "to_where": r.to_where,
                    "reason": r.reason,
                    "urgency": r.urgency.value,
                    "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                    "closed_as": r.closed_as.value if r.closed_as else None,
                }
                for r in referrals
            ],
            "consents": [consent_dict(open_consent(self.d.crypto, key, c)) for c in consents],
            "biometric_templates": [
                {
                    "modality": t.modality,
                    "position": t.position,
                    "created_at": t.created_at.isoformat(),
                    "note": "protected template, not an image",
                }
                for t in templates
            ],
            # what is kept and since when, never the images themselves: a copy of one needs a visit
            "biometric_images_kept": [
                {
                    "modality": i.modality,
                    "position": i.position,
                    "created_at": i.created_at.isoformat(),
                    "note": "encrypted under your own key; deleted when you withdraw biometric_image_retention",
                }
                for i in images
            ],
            "accesses": [v.to_dict() for v in views],
        }

    def erase(self, patient: Patient) -> None:
        """Erasure at the person's request: templates and rows deleted, data key destroyed (crypto-shredding);
        the log keeps the (non-personal) commitment of this request."""
        with self.d.uow() as uow:
            self._gate(uow, patient, Action.PATIENT_ERASE)
            erase_person(uow, self.d, patient.person_id)
            uow.commit()
