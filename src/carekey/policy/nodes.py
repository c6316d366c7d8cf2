"""Access rules for site nodes (issue 19, docs/sync.md): which sync requests the central registry serves.

| request                  | needs                                                                               |
|--------------------------|-------------------------------------------------------------------------------------|
| any sync call            | a registered node, signature by its key over (method, path, body hash, time, nonce) |
|                          | valid, the time within the window, the nonce never seen                             |
| push, pull               | the node ACTIVE: approved by one admin and confirmed by a second (two-person rule), |
|                          | not revoked                                                                          |
| approve a node           | an admin (``administer``), the one-time code shown on the node's screen              |
| confirm a node           | another admin than the approver (``confirm_node`` in ``decision.py``)                |
| revoke a node            | an admin (``administer``)                                                           |
| register a node          | no account (the node proves it holds the key it registers); at most                 |
|                          | MAX_PENDING_PER_SITE registrations waiting for approval per site; a registration    |
|                          | not approved within PENDING_TTL is revoked at the next registration for its site    |

A flagged node (replayed or reordered batch, rewritten log) stays able to sync correct batches: the flag is for the
program's admins (``carekey node list``), each refused batch is itself refused and logged. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from carekey.domain.sync import CLOCK_WINDOW_MS
from carekey.policy.decision import Decision

# Registration needs no account, so anyone who can reach the registry can ask it: the waiting list of a site is
# bounded (a flood of registrations cannot grow the database and the log without limit) and an unapproved
# registration expires (one cannot hold a site's places or node ids for ever). Admins see the list and revoke
# what they did not expect (`carekey node list`, `carekey node revoke`).
MAX_PENDING_PER_SITE = 5
PENDING_TTL = timedelta(days=2)


class NodeStatus(StrEnum):
    PENDING = "pending"  # registered, waiting for an admin's approval
    APPROVED = "approved"  # approved by one admin, waiting for a second admin's confirmation
    ACTIVE = "active"  # confirmed: may push and pull
    REVOKED = "revoked"  # `carekey node revoke`: every later request refused


@dataclass(frozen=True)
class NodeRequest:
    known: bool  # a node of that id is registered
    status: NodeStatus | None
    signature_valid: bool
    timestamp_ms: int
    now_ms: int
    nonce_seen: bool
    needs_active: bool = True  # False only for the node asking its own registration status


def decide_node(req: NodeRequest) -> Decision:
    """Serve or refuse one sync request; the first failing condition is the reason."""
    if not req.known:
        return Decision(False, "unknown node: register it first (carekey node init)")
    if not req.signature_valid:
        return Decision(False, "the request is not signed by the node's registered key")
    if abs(req.now_ms - req.timestamp_ms) > CLOCK_WINDOW_MS:
        return Decision(False, "the node's clock is more than 10 minutes off: correct it, then sync again")
    if req.nonce_seen:
        return Decision(False, "replayed request (this nonce was already used)")
    if req.status is NodeStatus.REVOKED:
        return Decision(False, "this node was revoked")
    if req.needs_active and req.status is not NodeStatus.ACTIVE:
        return Decision(
            False, "this node is not yet approved by an admin and confirmed by a second admin (two-person rule)"
        )
    return Decision(True, "active node, request signed by its key")


def expired_registration(registered_at: datetime, now: datetime) -> bool:
    """A registration still waiting for approval after PENDING_TTL: revoked at the next registration."""
    return now - registered_at > PENDING_TTL


def decide_registration(waiting_at_site: int) -> Decision:
    """Accept or refuse a node's registration, given the registrations of its site still waiting for approval."""
    if waiting_at_site >= MAX_PENDING_PER_SITE:
        return Decision(
            False,
            f"{MAX_PENDING_PER_SITE} registrations of this site already wait for approval: an admin approves or "
            "revokes them (carekey node list, approve, revoke); unapproved ones expire after "
            f"{PENDING_TTL.days} days",
        )
    return Decision(True, "registered, awaiting approval")
