import os
import stat

import pytest

from carekey.crypto.blind import BlindIndexer
from carekey.crypto.envelope import PersonCrypto, SealedKey, exam_aad, person_aad
from carekey.crypto.keys import MemorySecretStore, ProgramKeys, create_key_file, load_key_file
from carekey.errors import IntegrityError, NotFound


def test_key_file_created_0600_and_checked(tmp_path):
    path = tmp_path / "k" / "carekey.keys"
    keys = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path) == keys
    with pytest.raises(FileExistsError):
        create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(IntegrityError, match="0600"):
        load_key_file(path)


def test_corrupt_key_file_rejected(tmp_path):
    path = tmp_path / "bad.keys"
    path.write_text('{"format": "nope"}')
    os.chmod(path, 0o600)
    with pytest.raises(IntegrityError):
        load_key_file(path)


def test_seal_open_roundtrip_and_aad_binding():
    crypto = PersonCrypto(ProgramKeys.generate(), MemorySecretStore())
    key, sealed = crypto.new_data_key("CK-A")
    assert crypto.data_key("CK-A", sealed) == key
    blob = crypto.seal_json(key, {"x": 1}, person_aad("CK-A"))
    assert crypto.open_json(key, blob, person_aad("CK-A")) == {"x": 1}
    with pytest.raises(IntegrityError):  # moved to another row
        crypto.open_json(key, blob, person_aad("CK-B"))
    with pytest.raises(IntegrityError):  # tampered
        crypto.open_json(key, blob[:-1] + bytes([blob[-1] ^ 1]), exam_aad("E", "CK-A"))
    with pytest.raises(IntegrityError):  # wrapped key moved to another person
        crypto.data_key("CK-B", sealed)


def test_shredding_defeats_a_saved_wrapped_key():
    keys, store = ProgramKeys.generate(), MemorySecretStore()
    crypto = PersonCrypto(keys, store)
    _, sealed = crypto.new_data_key("CK-A")
    saved = SealedKey(sealed.key_ref, bytes(sealed.wrapped))  # "a copy of the database"
    crypto.shred(sealed.key_ref)
    with pytest.raises(NotFound):
        crypto.data_key("CK-A", saved)
    # even an attacker who re-creates a secret under the same reference cannot unwrap it
    store.create(sealed.key_ref)
    with pytest.raises(IntegrityError):
        crypto.data_key("CK-A", saved)


def test_blind_indexes_keyed_and_normalized():
    a, b = BlindIndexer(b"k" * 32), BlindIndexer(b"j" * 32)
    assert a.card("ab-12 34") == a.card("AB1234") != b.card("AB1234")
    assert a.name("José  Mensah") == a.name("jose mensah")
    assert a.birth_year(1980) != a.card("1980") and len(a.birth_year(1980)) == 64
