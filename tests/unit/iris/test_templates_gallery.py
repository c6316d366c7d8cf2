"""Persistent template validation and gallery bookkeeping."""

import struct
import zlib

import numpy as np
import pytest

from carekey.biometrics.iris import api
from carekey.biometrics.iris.templates import IrisTemplate
from carekey.errors import Conflict, NotFound, TemplateError


def random_template(seed: int) -> IrisTemplate:
    rng = np.random.default_rng(seed)
    return IrisTemplate.from_bits(rng.random(2048) < 0.5, rng.random(2048) < 0.8)


def test_round_trip():
    t = random_template(1)
    u = IrisTemplate.from_bytes(t.to_bytes())
    assert np.array_equal(u.code, t.code) and np.array_equal(u.mask, t.mask)


@pytest.mark.parametrize("position", [10, 200, 400, 515])
def test_any_flipped_byte_is_refused(position):
    data = bytearray(random_template(2).to_bytes())
    data[position] ^= 0x10
    with pytest.raises(TemplateError):
        IrisTemplate.from_bytes(bytes(data))


def test_other_version_is_refused_with_a_clear_reason():
    data = bytearray(random_template(3).to_bytes())
    data[4:6] = struct.pack("<H", 2)
    body = bytes(data[:-4])
    data[-4:] = struct.pack("<I", zlib.crc32(body))
    with pytest.raises(TemplateError) as info:
        IrisTemplate.from_bytes(bytes(data))
    assert info.value.detail["reason"] == "version"


@pytest.mark.parametrize("data", [b"", b"CKIR", b"XXXX" + bytes(600), "text"])
def test_truncated_or_foreign_data_is_refused(data):
    with pytest.raises(TemplateError):
        IrisTemplate.from_bytes(data)


def test_templates_are_immutable():
    t = random_template(4)
    with pytest.raises(ValueError):
        t.code[0] = 1


def test_gallery_add_search_remove():
    gallery = api.IrisGallery(capacity=2)
    ts = [random_template(s) for s in range(10)]
    for i, t in enumerate(ts):
        gallery.add(f"k{i}", t)
    assert len(gallery) == 10 and gallery.nbytes == 10 * 512
    assert gallery.search(ts[7], top=1)[0].key == "k7"
    gallery.remove("k7")
    assert "k7" not in gallery and len(gallery) == 9
    assert gallery.search(ts[7], top=1)[0].key != "k7"
    assert gallery.search(ts[9], top=1)[0].key == "k9"  # the moved row keeps its key
    with pytest.raises(Conflict):
        gallery.add("k1", ts[1])
    with pytest.raises(NotFound):
        gallery.remove("k7")


def test_empty_gallery_finds_nothing():
    assert api.IrisGallery().search(random_template(0)) == []
