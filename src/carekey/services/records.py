"""Sealing and opening person records, exams and consent details with the person's data key."""

from __future__ import annotations

from typing import Any

from carekey.crypto.envelope import PersonCrypto, SealedKey, exam_aad, person_aad
from carekey.domain.consent import ConsentRecord, Grantor, GrantorKind
from carekey.domain.exam import Exam, parse_blood_type
from carekey.domain.person import Person
from carekey.domain.purposes import Purpose
from carekey.errors import NotFound, msg
from carekey.storage.protocols import ConsentRow, ExamRow, PersonRow, UnitOfWork


def _open_object(crypto: PersonCrypto, key: bytes, blob: bytes, aad: str) -> dict[str, Any]:
    """A sealed JSON object (every payload carekey seals is one, and the seal is authenticated)."""
    data = crypto.open_json(key, blob, aad)
    if not isinstance(data, dict):
        raise TypeError(f"sealed payload {aad} is not a JSON object")
    return data


def load_row(uow: UnitOfWork, person_id: str) -> PersonRow:
    row = uow.people.get(person_id)
    if row is None:
        raise NotFound(msg("no person %(person)s", person=person_id), person_id=person_id)
    return row


def data_key(crypto: PersonCrypto, row: PersonRow) -> bytes:
    return crypto.data_key(row.id, SealedKey(row.key_ref, row.wrapped_key))


def open_person(crypto: PersonCrypto, row: PersonRow, key: bytes | None = None) -> Person:
    key = key or data_key(crypto, row)
    return Person.from_dict(_open_object(crypto, key, row.ciphertext, person_aad(row.id)))


def open_person_or_none(crypto: PersonCrypto, row: PersonRow) -> Person | None:
    """For candidate lists: a row whose key was shredded (an erasure interrupted before its commit) is skipped
    rather than failing the whole lookup."""
    try:
        return open_person(crypto, row)
    except NotFound:
        return None


def seal_exam(crypto: PersonCrypto, key: bytes, exam: Exam) -> bytes:
    return crypto.seal_json(key, exam.payload(), exam_aad(exam.id, exam.person_id or ""))


def open_exam(crypto: PersonCrypto, key: bytes, row: ExamRow) -> Exam:
    data = _open_object(crypto, key, row.ciphertext, exam_aad(row.id, row.person_id))
    data.pop("bmi", None)
    bt = data.pop("blood_type", None)
    return Exam.create(
        id=row.id,
        person_id=row.person_id,
        visit_id=row.visit_id,
        site_id=row.site_id,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        blood_type=parse_blood_type(bt) if bt else None,
        **data,
    )


def grantor_aad(consent_id: str, person_id: str) -> str:
    return f"consents|{consent_id}|{person_id}|v1"


def seal_grantor(crypto: PersonCrypto, key: bytes, consent_id: str, person_id: str, grantor: Grantor) -> bytes:
    return crypto.seal_json(
        key, {"name": grantor.guardian_name, "relation": grantor.guardian_relation}, grantor_aad(consent_id, person_id)
    )


def open_consent(crypto: PersonCrypto, key: bytes, row: ConsentRow) -> ConsentRecord:
    g = _open_object(crypto, key, row.grantor_ciphertext, grantor_aad(row.id, row.person_id))
    grantor = Grantor(GrantorKind(row.grantor_kind), g["name"], g["relation"])
    return ConsentRecord(
        id=row.id,
        person_id=row.person_id,
        purpose=Purpose(row.purpose),
        granted=row.granted,
        notice_version=row.notice_version,
        language=row.language,
        grantor=grantor,
        at=row.at,
        site_id=row.site_id,
        user_id=row.user_id,
    )
