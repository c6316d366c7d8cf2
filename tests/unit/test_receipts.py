"""Receipts handed to a patient or an auditor verify with the public key alone, survive JSON, and fail
when anything in them is changed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog
from carekey.audit.proofs import ConsistencyReceipt, InclusionReceipt
from carekey.audit.sth import LogSigner

SIGNER = LogSigner.generate()


def event(i):
    return leaf.leaf_input(
        {"person": "p1" if i % 3 == 0 else f"q{i}", "purpose": "care_record", "i": i}, bytes([i % 256]) * 32
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.data())
def test_inclusion_receipt_roundtrip_and_tamper(n, data):
    log = MerkleLog()
    log.extend(event(i) for i in range(n))
    sth = SIGNER.sign(log.size, log.root(), timestamp_ms=5)
    index = data.draw(st.integers(0, n - 1))
    receipt = InclusionReceipt.issue(log, index, event(index), sth)
    again = InclusionReceipt.from_dict(json.loads(json.dumps(receipt.to_dict())))
    assert again == receipt and again.verify(SIGNER.public_key)
    assert not again.verify(LogSigner.generate().public_key)
    other = InclusionReceipt(index, event(index + 1000), receipt.path, sth)
    assert not other.verify(SIGNER.public_key)  # a different access entry
    if n > 1:
        moved = InclusionReceipt((index + 1) % n, receipt.leaf_input, receipt.path, sth)
        assert not moved.verify(SIGNER.public_key)


def test_consistency_receipt():
    log = MerkleLog()
    log.extend(event(i) for i in range(7))
    old = SIGNER.sign(7, log.root(), timestamp_ms=1)
    log.extend(event(i) for i in range(7, 19))
    new = SIGNER.sign(19, log.root(), timestamp_ms=2)
    receipt = ConsistencyReceipt.issue(log, old, new)
    assert ConsistencyReceipt.from_dict(json.loads(json.dumps(receipt.to_dict()))).verify(SIGNER.public_key)
    fork = MerkleLog()
    fork.extend(event(i + 100) for i in range(7))
    forged_old = SIGNER.sign(7, fork.root(), timestamp_ms=1)
    assert not ConsistencyReceipt(forged_old, new, receipt.path).verify(SIGNER.public_key)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"leaf_index": 1},
        {"leaf_index": 0, "leaf_input": "!!", "audit_path": [], "signed_tree_head": {}},
        {"leaf_index": 0, "leaf_input": "", "audit_path": "x", "signed_tree_head": "x"},
    ],
)
def test_malformed_receipts_are_refused(bad):
    with pytest.raises(ValueError):
        InclusionReceipt.from_dict(bad)
    with pytest.raises(ValueError):
        ConsistencyReceipt.from_dict(bad)
