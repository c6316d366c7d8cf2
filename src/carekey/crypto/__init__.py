"""Encryption at rest: program key file, per-person envelope encryption with crypto-shredding, blind indexes.

Design (why a copy of the database taken before an erasure is useless afterwards)::

    key file (mode 0600, never in the DB)      KEK (32 B), blind-index key (32 B)
    key store (separate file, mode 0600)       one random 32-byte "shred secret" per person
    database                                   wrapped data key, ciphertexts, blind indexes

    wrapping key(person) = HKDF-SHA256(ikm=KEK, salt=shred secret, info="carekey-wrap-v1|" + key_ref)
    wrapped data key     = AES-256-GCM(wrapping key, data key, aad="wrap|" + person id)
    record / exam        = AES-256-GCM(data key, JSON, aad binds table, row id and person id)
    image key(person)    = HKDF-SHA256(ikm=KEK, salt=image secret, info="carekey-image-v1|" + ref + person id)
    kept image           = AES-256-GCM(image key, image bytes, aad binds row, person, modality, position)
    log pseudonym        = "X-" + base32(HMAC-SHA256(shred secret, person id))[:10]   (written on erasure)

The image secret is a second key-store secret per person (from their first kept image): revoking either
biometric consent destroys it, and only it. Both are destroyed in the second phase of a two-phase erasure,
right after the commit that deleted the rows (``carekey.storage.sql.shreds``); ``ProgramKeys.check_value``
and the key store's ``check_value`` let start-up refuse a key file that does not belong to the database.

Erasure destroys the person's shred secret in the key store (and deletes the wrapped key and
ciphertexts from the database). An old database copy still holds the wrapped data key, but the
wrapping key can no longer be derived: the KEK alone is not enough, and the shred secret never
entered the database. The key store is the only state that must not be backed up together with
the database beyond the erasure deadline; a deployment can replace it with a KMS/HSM behind the
same ``SecretStore`` protocol.
"""
