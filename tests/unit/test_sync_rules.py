"""Issue 19's pure rules: the batch chain, the node request decision, the two-person rule for nodes, the lease,
the consent merge, the sealed node key."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from carekey.crypto.nodekeys import Argon2Params, NodeKey, verify
from carekey.domain.consent import current_grants
from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.domain.sync import CLOCK_WINDOW_MS, BatchFacts, BatchVerdict, judge_batch, signing_string
from carekey.errors import KeyCheckFailed
from carekey.policy.decision import LEASED_READS, RULES, Action, Request, VisitFacts, decide
from carekey.policy.nodes import NodeRequest, NodeStatus, decide_node


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        (BatchFacts(3, "h3", 4, "h3", "h4", None), BatchVerdict.APPLY),
        (BatchFacts(0, "", 1, "", "h1", None), BatchVerdict.APPLY),
        (BatchFacts(3, "h3", 3, "h2", "h3", "h3"), BatchVerdict.ACK_AGAIN),
        (BatchFacts(3, "h3", 2, "h1", "h2", "h2"), BatchVerdict.ACK_AGAIN),
        (BatchFacts(3, "h3", 3, "h2", "other", "h3"), BatchVerdict.REPLAYED),
        (BatchFacts(3, "h3", 5, "h4", "h5", None), BatchVerdict.REORDERED),
        (BatchFacts(3, "h3", 4, "not-h3", "h4", None), BatchVerdict.REORDERED),
    ],
)
def test_batch_chain(facts, verdict):
    assert judge_batch(facts) is verdict


def node_req(**kw):
    base = dict(
        known=True,
        status=NodeStatus.ACTIVE,
        signature_valid=True,
        timestamp_ms=1_000_000,
        now_ms=1_000_000,
        nonce_seen=False,
    )
    return NodeRequest(**(base | kw))


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"known": False}, "unknown node"),
        ({"signature_valid": False}, "not signed"),
        ({"timestamp_ms": 1_000_000 - CLOCK_WINDOW_MS - 1}, "clock"),
        ({"nonce_seen": True}, "replayed"),
        ({"status": NodeStatus.REVOKED}, "revoked"),
        ({"status": NodeStatus.PENDING}, "not yet approved"),
        ({"status": NodeStatus.APPROVED}, "not yet approved"),
    ],
)
def test_node_requests_refused(kw, reason):
    d = decide_node(node_req(**kw))
    assert not d.allowed and reason in d.reason


def test_active_node_served():
    assert decide_node(node_req()).allowed


def admin_req(action, **kw):
    return Request(
        actor_id="U-2",
        role=Role.ADMIN,
        actor_site_ids=frozenset(),
        action=action,
        purpose=Purpose.ADMINISTRATION,
        actor_approved=True,
        **kw,
    )


def test_a_node_is_confirmed_by_another_admin_than_its_approver():
    assert decide(admin_req(Action.CONFIRM_NODE, node_approved_by="U-1")).allowed
    same = decide(admin_req(Action.CONFIRM_NODE, node_approved_by="U-2"))
    assert not same.allowed and "another admin" in same.reason
    first = decide(admin_req(Action.CONFIRM_NODE, node_approved_by=None))
    assert not first.allowed and "first be approved" in first.reason


def visit_req(action, **kw):
    role = Role.CLINICIAN if Role.CLINICIAN in RULES[action].roles else Role.REGISTRAR
    base = dict(
        actor_id="U-1",
        role=role,
        actor_site_ids=frozenset({"north"}),
        action=action,
        purpose=RULES[action].purpose,
        site_id="north",
        visit=VisitFacts("north", True, None if action is Action.LOOKUP else "CK-A", frozenset({"CK-A"}), "U-1"),
        person_id="CK-A",
        consents=frozenset(Purpose),
        person_agreed=True,
        actor_approved=True,
    )
    return Request(**(base | kw))


@pytest.mark.parametrize("action", sorted(LEASED_READS - {Action.FOLLOWUP_LIST}))
def test_past_the_lease_person_reads_are_refused(action):
    assert decide(visit_req(action)).allowed
    d = decide(visit_req(action, lease_expired_since="2026-11-01"))
    assert not d.allowed and "has not synced since 2026-11-01" in d.reason


@pytest.mark.parametrize("action", [Action.ENROLL, Action.RECORD_EXAM])
def test_past_the_lease_care_goes_on(action):
    kw = {"visit": VisitFacts("north", True, None, frozenset(), "U-1")} if action is Action.ENROLL else {}
    assert decide(visit_req(action, lease_expired_since="2026-11-01", **kw)).allowed


T = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def decision(purpose, granted, at, version):
    return SimpleNamespace(purpose=purpose.value, granted=granted, at=at, version=version)


def test_consents_merge_latest_by_time_and_a_withdrawal_wins_ties():
    bio = Purpose.BIOMETRIC_IDENTIFICATION
    # a later grant (made on a node, arrived later: a higher version) still loses to the later withdrawal
    assert bio not in current_grants([decision(bio, False, T + timedelta(minutes=1), 1), decision(bio, True, T, 2)])
    # the same instant on two machines: the withdrawal wins, whatever the arrival order
    assert bio not in current_grants([decision(bio, False, T, 1), decision(bio, True, T, 2)])
    assert bio not in current_grants([decision(bio, True, T, 1), decision(bio, False, T, 2)])
    assert bio in current_grants([decision(bio, False, T, 1), decision(bio, True, T + timedelta(seconds=1), 2)])


def test_the_node_key_is_sealed_and_opens_only_with_its_passphrase(tmp_path):
    key = NodeKey.generate()
    path = tmp_path / "node.key"
    key.seal(path, "a long passphrase", Argon2Params(1, 64))
    assert path.stat().st_mode & 0o077 == 0
    opened = NodeKey.unseal(path, "a long passphrase")
    assert opened.public_key == key.public_key
    data = signing_string("POST", "/sync/push", b"{}", 1, "n")
    assert verify(key.public_key, opened.sign(data), data)
    assert not verify(key.public_key, opened.sign(data), data + b"x")
    with pytest.raises(KeyCheckFailed, match="wrong passphrase"):
        NodeKey.unseal(path, "another passphrase!")
    text = path.read_text()
    path.write_text(text.replace('"time_cost": 1', '"time_cost": 2'))  # the header is authenticated too
    with pytest.raises(KeyCheckFailed):
        NodeKey.unseal(path, "a long passphrase")


def test_demographic_fields_merge_per_field_central_keeps_a_conflict_and_a_later_edit_settles_it():
    from carekey.domain.sync import FieldEdit, merge_fields

    node_only = FieldEdit("E1", "given_name", (), "2026-01-01T10:00", False)
    central_v = FieldEdit("E2", "family_name", (), "2026-01-01T11:00", True)
    node_v = FieldEdit("E3", "family_name", (), "2026-01-01T12:00", False)  # later, but central's stays
    merged = merge_fields([node_only, central_v, node_v])
    assert merged["given_name"].winner == "E1" and merged["given_name"].conflict == ()
    assert merged["family_name"].winner == "E2" and merged["family_name"].conflict == ("E2", "E3")
    assert merge_fields([node_v, central_v, node_only]) == merged  # order-free: the same answer on every side
    settled = FieldEdit("E4", "family_name", ("E2", "E3"), "2026-01-02T09:00", False)
    assert (
        merge_fields([node_only, central_v, node_v, settled])["family_name"] == merge_fields([settled])["family_name"]
    )
    chained = FieldEdit("E5", "family_name", ("E2",), "2026-01-02T09:00", False)  # saw central's only: E3 still open
    assert merge_fields([central_v, node_v, chained])["family_name"].conflict == ("E3", "E5")
