"""An access as shown to the person verifies with the public key only; any edit or malformation fails."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog
from carekey.audit.proofs import InclusionReceipt, access_receipt, verify_access_receipt
from carekey.audit.sth import LogSigner
from carekey.domain.access import AccessEvent

SIGNER = LogSigner.generate()


def shown(n: int, i: int) -> dict:
    log, events, salts = MerkleLog(), [], []
    for k in range(n):
        e = AccessEvent(
            at=datetime(2026, 1, 1, tzinfo=UTC),
            actor_id=f"U-{k}",
            role="clinician",
            site_id="north",
            purpose="care_record",
            action="read_exams",
            outcome="granted",
            reason="ok",
            person_id="CK-A",
        ).leaf_event()
        salt = leaf.new_salt()
        log.append(leaf.leaf_input(e, salt))
        events.append(e)
        salts.append(salt)
    sth = SIGNER.sign(log.size, log.root(), 1)
    return access_receipt(
        events[i], salts[i], InclusionReceipt.issue(log, i, leaf.leaf_input(events[i], salts[i]), sth)
    )


@given(
    st.integers(1, 20).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.sampled_from(["actor_id", "role", "site_id", "purpose", "action", "outcome", "at"]),
)
def test_valid_receipt_and_every_edited_field_fails(case, field):
    n, i = case
    data = shown(n, i)
    assert verify_access_receipt(data, SIGNER.public_key)
    edited = data | {"event": data["event"] | {field: "x"}}
    assert not verify_access_receipt(edited, SIGNER.public_key)
    assert not verify_access_receipt(data, LogSigner.generate().public_key)


def test_malformed_receipts_are_invalid_not_errors():
    data = shown(5, 2)
    for bad in (
        {},
        {"event": data["event"]},
        data | {"salt": "%%%"},
        data | {"event": []},
        data | {"receipt": {"leaf_index": "x"}},
        data | {"salt": None},
    ):
        assert not verify_access_receipt(bad, SIGNER.public_key)
