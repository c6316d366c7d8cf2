"""Enrollment images kept at the person's request (consent ``biometric_image_retention``, ISO/IEC 24745
renewability without a new capture).

An image is sealed with AES-256-GCM under the person's own image key: a key-store secret apart from their data
key (``PersonCrypto.image_key``), destroyed when either biometric consent is revoked, when retention deletes the
images, and on erasure (two phases: the rows are deleted and the key queued in one transaction, the key destroyed
right after its commit). So a database copy, a backup or a WAL file taken before then holds only undecryptable
bytes, even though the person's record itself lives on. The associated data binds the ciphertext to its row,
person, modality and position. Images kept before migration 0004 (``key_ref`` NULL) are sealed under the data
key and opened with it. Images are opened only in memory by the renewal
job (``carekey.services.renewal``); no interface ever returns one, and they never reach a log.
"""

from __future__ import annotations

from datetime import datetime

from carekey.crypto.envelope import PersonCrypto, image_aad
from carekey.domain.ids import new_id
from carekey.storage.protocols import ImageRow, TemplateRow, UnitOfWork


def keep_image(
    uow: UnitOfWork, crypto: PersonCrypto, key: bytes, template: TemplateRow, image: bytes, now: datetime
) -> ImageRow:
    """Store ``image`` sealed under the person's image key (created with their first kept image), linked to
    ``template``; an image kept earlier for the same finger or eye is replaced (one image per position).
    ``key`` (the data key) is unused since migration 0004 and kept for callers."""
    del key
    person_id = template.person_id
    key_ref = next(iter(uow.images.key_refs(person_id)), None)
    if key_ref is None:
        key_ref = crypto.new_image_key_ref()  # a rollback leaves an unused random secret: harmless
    iid = new_id("I")
    row = ImageRow(
        iid,
        person_id,
        template.id,
        template.modality,
        template.position,
        template.key_version,
        crypto.seal_bytes(
            crypto.image_key(person_id, key_ref), image, image_aad(iid, person_id, template.modality, template.position)
        ),
        now,
        key_ref,
    )
    uow.images.delete_position(person_id, template.modality, template.position)
    uow.images.add(row)
    return row


def open_image(crypto: PersonCrypto, key: bytes, row: ImageRow) -> bytes:
    """The image bytes (IntegrityError if the row was tampered with or the key is not the person's; NotFound when
    the image key was destroyed). ``key`` is the data key, used only for images kept before migration 0004."""
    if row.key_ref is not None:
        key = crypto.image_key(row.person_id, row.key_ref)
    return crypto.open_bytes(key, row.ciphertext, image_aad(row.id, row.person_id, row.modality, row.position))


def delete_kept_images(uow: UnitOfWork, person_id: str) -> int:
    """Delete the person's kept images and queue their image key for destruction after the commit (two phases,
    as erasure). Returns the number of images deleted."""
    for key_ref in uow.images.key_refs(person_id):
        uow.shreds.schedule(key_ref)
    return uow.images.delete_for_person(person_id)
