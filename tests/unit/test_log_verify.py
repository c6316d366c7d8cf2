"""Signed tree heads and the log auditor: every kind of tampering with the stored entries or the saved
tree heads is reported, with the index of the entry concerned."""

import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.audit import leaf
from carekey.audit.merkle import InMemoryNodeStore, MerkleLog
from carekey.audit.sth import LogSigner, SignedTreeHead
from carekey.audit.verify import verify_log

SIGNER = LogSigner.generate()


def entry(i: int) -> bytes:
    return leaf.leaf_input({"person": f"p{i % 7}", "purpose": "care_record", "n": i}, bytes([i % 251]) * 32)


def make_log(n: int, head_sizes: list[int]):
    """A log of n entries with a signed tree head saved at each size in head_sizes (and at n)."""
    log, heads, rows = MerkleLog(InMemoryNodeStore()), [], []
    for i in range(n):
        rows.append((i, entry(i)))
        log.append(rows[-1][1])
        if i + 1 in head_sizes:
            heads.append(SIGNER.sign(log.size, log.root(), timestamp_ms=1000 + i))
    heads.append(SIGNER.sign(log.size, log.root(), timestamp_ms=10_000 + n))
    return log, heads, rows


def test_untouched_log_verifies():
    log, heads, rows = make_log(40, [1, 7, 16, 33])
    report = verify_log(rows, heads, SIGNER.public_key, log.store)
    assert report.ok, report.problems
    assert verify_log(rows, heads, SIGNER.public_key).ok


def test_sth_roundtrip_and_signature():
    sth = SIGNER.sign(5, b"\x11" * 32, timestamp_ms=123)
    again = SignedTreeHead.from_json(sth.to_json())
    assert again == sth and again.verify(SIGNER.public_key)
    assert not again.verify(LogSigner.generate().public_key)
    forged = SignedTreeHead(type(sth.head)(6, sth.root, 123), sth.signature, sth.key_id)
    assert not forged.verify(SIGNER.public_key)
    for bad in ("{", "[]", '{"tree_size": 1}', sth.to_json().replace('"key_id": "', '"key_id": "zz')):
        with pytest.raises(ValueError):
            SignedTreeHead.from_json(bad)


def test_key_file_roundtrip(tmp_path):
    path = tmp_path / "log.key"
    SIGNER.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert LogSigner.load(path).public_key == SIGNER.public_key
    with pytest.raises(FileExistsError):
        SIGNER.save(path)
    (tmp_path / "bad.key").write_text("not hex")
    with pytest.raises(ValueError):
        LogSigner.load(tmp_path / "bad.key")


TAMPER = st.sampled_from(["modify", "remove", "remove_renumber", "insert_renumber", "swap", "append_fake", "truncate"])


@settings(max_examples=80, deadline=None)
@given(st.integers(3, 60), st.data(), TAMPER, st.booleans())
def test_every_entry_tampering_is_detected(n, data, how, with_store):
    log, heads, rows = make_log(n, sorted(set(data.draw(st.lists(st.integers(1, n), max_size=4)))))
    k = data.draw(st.integers(0, n - 2))
    rows = list(rows)
    if how == "modify":
        rows[k] = (k, rows[k][1][:-1] + bytes([rows[k][1][-1] ^ 1]))
        expect = {"modified"} if with_store else {"root_mismatch"}
    elif how == "remove":
        del rows[k]
        expect = {"removed"}
    elif how == "remove_renumber":
        rows = [(i, d) for i, (_, d) in enumerate(rows[:k] + rows[k + 1 :])]
        expect = {"removed"} if with_store else {"root_mismatch", "removed"}
    elif how == "insert_renumber":
        rows = [(i, d) for i, (_, d) in enumerate(rows[:k] + [(0, entry(10_000))] + rows[k:])]
        expect = {"inserted"} if with_store else {"root_mismatch"}
    elif how == "swap":
        rows[k], rows[k + 1] = (k, rows[k + 1][1]), (k + 1, rows[k][1])
        expect = {"reordered"} if with_store else {"root_mismatch"}
    elif how == "append_fake":
        rows.append((n, entry(20_000)))
        expect = {"inserted"} if with_store else set()  # an unsigned tail is only visible to the store
        k = n
    else:  # truncate the tail
        rows = rows[: k + 1]
        expect = {"removed"}
        k = k + 1
    report = verify_log(rows, heads, SIGNER.public_key, log.store if with_store else None)
    if expect:
        assert not report.ok, (how, report.problems)
        assert report.kinds() & expect, (how, report.problems)
    else:  # an appended unsigned tail, checked without the store: nothing signed was touched
        assert report.ok, (how, report.problems)
    if with_store or how in ("remove", "truncate"):
        assert any(p.index == k for p in report.problems if p.kind in expect), (how, k, report.problems)


def test_reorder_far_apart_names_both_indices():
    log, heads, rows = make_log(30, [10])
    rows[3], rows[20] = (3, rows[20][1]), (20, rows[3][1])
    report = verify_log(rows, heads, SIGNER.public_key, log.store)
    assert {p.index for p in report.problems if p.kind == "reordered"} == {3, 20}


def test_index_column_going_backwards_is_reordered():
    _, heads, rows = make_log(10, [])
    rows[4], rows[5] = rows[5], rows[4]
    report = verify_log(rows, heads, SIGNER.public_key)
    assert "reordered" in report.kinds()


def test_bad_signature_swapped_head_and_fork_are_detected():
    log, heads, rows = make_log(20, [5, 12])
    other = LogSigner.generate()
    foreign = other.sign(heads[1].size, heads[1].root, timestamp_ms=heads[1].head.timestamp_ms)
    report = verify_log(rows, [heads[0], foreign, heads[2]], SIGNER.public_key, log.store)
    assert report.kinds() == {"bad_signature"}
    sig = bytearray(heads[0].signature)
    sig[0] ^= 1
    flipped = SignedTreeHead(heads[0].head, bytes(sig), heads[0].key_id)
    assert verify_log(rows, [flipped, *heads[1:]], SIGNER.public_key).kinds() == {"bad_signature"}
    # a head validly signed over a different history (the operator forked the log)
    fork = MerkleLog()
    fork.extend([entry(i + 500) for i in range(12)])
    forked = SIGNER.sign(12, fork.root(), timestamp_ms=heads[1].head.timestamp_ms)
    report = verify_log(rows, [heads[0], forked, heads[2]], SIGNER.public_key, log.store)
    assert {"inconsistent_sth", "root_mismatch"} <= report.kinds()
    shrinking = SIGNER.sign(3, log.root(3), timestamp_ms=99_999)
    assert "inconsistent_sth" in verify_log(rows, [*heads, shrinking], SIGNER.public_key).kinds()


def test_tampered_node_store_is_reported():
    log, heads, rows = make_log(16, [8])
    bad = InMemoryNodeStore()
    hashes = [log.leaf_hash_at(i) for i in range(16)]
    hashes[2] = b"\x00" * 32
    rebuilt = MerkleLog(bad)
    for h in hashes:
        rebuilt.append_hash(h)
    report = verify_log(rows, heads, SIGNER.public_key, bad)
    assert report.kinds() == {"node_store_mismatch"}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 10**6),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**40),
    st.sampled_from(["size", "root", "time", "signature", "key"]),
)
def test_any_change_to_a_signed_head_breaks_its_signature(size, root, ts, field):
    sth = SIGNER.sign(size, root, timestamp_ms=ts)
    head, sig, kid = sth.head, sth.signature, sth.key_id
    if field == "size":
        head = type(head)(size + 1, root, ts)
    elif field == "root":
        head = type(head)(size, bytes([root[0] ^ 1]) + root[1:], ts)
    elif field == "time":
        head = type(head)(size, root, ts + 1)
    elif field == "signature":
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    else:
        kid = bytes(32)
    assert sth.verify(SIGNER.public_key)
    assert not SignedTreeHead(head, sig, kid).verify(SIGNER.public_key)


def test_index_column_problems_are_named_precisely():
    _, heads, rows = make_log(12, [])
    moved = rows[:3] + [rows[5], rows[3], rows[4]] + rows[6:]
    report = verify_log(moved, heads, SIGNER.public_key)
    assert {p.index for p in report.problems if p.kind == "reordered"} == {3, 5}
    assert "removed" not in report.kinds() and "inserted" not in report.kinds()
    dup = rows[:4] + [rows[3]] + rows[4:]
    assert [p.index for p in verify_log(dup, heads, SIGNER.public_key).problems if p.kind == "inserted"] == [3]
