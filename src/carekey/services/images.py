"""Enrollment images kept at the person's request (consent ``biometric_image_retention``, ISO/IEC 24745
renewability without a new capture).

An image is sealed with AES-256-GCM under the person's own data key, the key that erasure destroys, so a
database copy taken before an erasure holds only undecryptable bytes. The associated data binds the
ciphertext to its row, person, modality and position. Images are opened only in memory by the renewal
job (``carekey.services.renewal``); no interface ever returns one, and they never reach a log.
"""

from __future__ import annotations

from datetime import datetime

from carekey.crypto.envelope import PersonCrypto, image_aad
from carekey.domain.ids import new_id
from carekey.storage.protocols import ImageRow, TemplateRow, UnitOfWork


def keep_image(uow: UnitOfWork, crypto: PersonCrypto, key: bytes, template: TemplateRow, image: bytes,
               now: datetime) -> ImageRow:
    """Store ``image`` sealed under the data key ``key``, linked to ``template``; an image kept earlier for
    the same finger or eye is replaced (one image per position)."""
    iid = new_id("I")
    row = ImageRow(iid, template.person_id, template.id, template.modality, template.position, template.key_version,
                   crypto.seal_bytes(key, image, image_aad(iid, template.person_id, template.modality,
                                                           template.position)), now)
    uow.images.delete_position(template.person_id, template.modality, template.position)
    uow.images.add(row)
    return row


def open_image(crypto: PersonCrypto, key: bytes, row: ImageRow) -> bytes:
    """The image bytes (IntegrityError if the row was tampered with or the key is not the person's)."""
    return crypto.open_bytes(key, row.ciphertext, image_aad(row.id, row.person_id, row.modality, row.position))
