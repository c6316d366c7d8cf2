"""The central registry's side of the sync (issue 19, docs/sync.md): node registration, approval by one admin and
confirmation by a second (two-person rule), revocation; every sync request authenticated (``policy.nodes``); push
batches applied once, in order, with the node log verified; pulls of the node's catchment only.

Every decision is an entry of the central log: admin actions (``admin_approve_node``...) are counted publicly like
the others; a node's requests are logged under the actor ``node-<id>`` (role ``site_node``): a refusal as
"denied", each person applied from a push (``sync_apply``) or sent in a pull (``sync_send``) as "granted".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carekey.audit import leaf
from carekey.audit.merkle import MerkleLog, ProofError, verify_consistency
from carekey.audit.sth import SignedTreeHead
from carekey.crypto import nodekeys
from carekey.crypto.capture import CaptureKey, batch_info, capture_info
from carekey.domain.access import AccessEvent, Outcome
from carekey.domain.ids import new_id
from carekey.domain.purposes import Purpose
from carekey.domain.sync import (
    CLOCK_WINDOW_MS,
    BatchFacts,
    BatchVerdict,
    canonical,
    judge_batch,
    response_string,
    sha256_hex,
    signing_string,
)
from carekey.errors import (
    CarekeyError,
    Conflict,
    Forbidden,
    InvalidInput,
    MatcherUnavailable,
    NotAuthenticated,
    NotFound,
    RateLimited,
    StorageUnavailable,
    msg,
)
from carekey.policy.decision import Action
from carekey.policy.nodes import (
    PENDING_TTL,
    NodeRequest,
    NodeStatus,
    decide_node,
    decide_registration,
    expired_registration,
)
from carekey.services.access import authorize, consents_of, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key
from carekey.services.sync_records import apply_erasure, apply_snapshot, snapshot
from carekey.storage.protocols import CaptureRow, NodeRow, TaskRow, UnitOfWork

if TYPE_CHECKING:
    from carekey.services.biometrics import BiometricService

ADMIN = Purpose.ADMINISTRATION.value
CARE = Purpose.CARE_RECORD.value
NODE_ROLE = "site_node"
PULL_PAGE = 200  # feed rows examined per pull answer


OVERRIDES = ("twins", "false_match")  # resolutions of a duplicate task that enroll the capture (OVERRIDE_REASONS)
RESOLUTIONS = (*OVERRIDES, "same_person")


def _where(capture: CaptureRow) -> tuple[str, str]:
    return capture.modality, capture.position


def disclosure_aad(node_id: str, idx: int, person_id: str) -> str:
    return f"node_disclosures|{node_id}|{idx}|{person_id}|v1"


def node_actor(node_id: str) -> str:
    return f"node-{node_id}"[:40]


def log_node(
    uow: UnitOfWork,
    at: datetime,
    node_id: str,
    action: str,
    outcome: Outcome,
    reason: str,
    site_id: str | None = None,
    person_id: str | None = None,
) -> None:
    """One entry of this side's log for a node's request (``log_access`` for an actor that is a machine)."""
    event = AccessEvent(at, node_actor(node_id), NODE_ROLE, site_id, CARE, action, outcome, reason, person_id)
    salt = leaf.new_salt()
    uow.access_log.append(event, salt, leaf.leaf_input(event.leaf_event(), salt))


def registration_bytes(node_id: str, site_id: str, public_key: str, log_public_key: str, code_hash: str) -> bytes:
    return canonical(
        {"node_id": node_id, "site_id": site_id, "public_key": public_key, "log_key": log_public_key, "code": code_hash}
    )


def code_hash(code: str, node_id: str) -> str:
    return sha256_hex(f"carekey-node-code|{node_id}|{code.strip().upper()}".encode())


@dataclass(frozen=True)
class SignedCall:
    """What a node sent: its id, the signature headers, and the request itself."""

    node_id: str
    timestamp_ms: int
    nonce: str
    signature: bytes
    method: str
    path: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    body: bytes  # canonical JSON
    signature: str  # hex, the central log key over ``response_string``


class CentralSync:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.capture_key_file: Path | None = None  # set by bootstrap: the matcher's HPKE capture key (0600)
        self._capture_key: CaptureKey | None = None
        self.biometrics: BiometricService | None = None  # set by the container: enrolls the offline captures

    def capture_key(self) -> CaptureKey | None:
        """The capture key pair, created on first use (None: this instance has no capture key file)."""
        if self._capture_key is None and self.capture_key_file is not None:
            self._capture_key = CaptureKey.load_or_create(self.capture_key_file)
        return self._capture_key

    # -- registration and the two-person rule ------------------------------------------------------------------
    def register(self, body: dict[str, Any], signature: bytes) -> dict[str, Any]:
        """A node asks to join (``carekey node init``): it proves it holds the key it registers. Nothing is sent
        to it until one admin approved it (with the code shown on its screen) and a second confirmed."""
        try:
            node_id, site_id = str(body["node_id"]), str(body["site_id"])
            public_key, log_key, code = str(body["public_key"]), str(body["log_public_key"]), str(body["code_hash"])
            pk = bytes.fromhex(public_key)
            bytes.fromhex(log_key)
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"malformed registration: {exc}") from None
        if not (1 <= len(node_id) <= 40 and len(public_key) == 64 and len(log_key) == 64 and len(code) == 64):
            raise InvalidInput("malformed registration: node id, keys or code of the wrong length")
        if not nodekeys.verify(pk, signature, registration_bytes(node_id, site_id, public_key, log_key, code)):
            raise NotAuthenticated("the registration is not signed by the key it registers")
        now = self.d.clock()
        with self.d.uow() as uow:
            if uow.programs.get_site(site_id) is None:
                raise NotFound(msg("no site %(site)s", site=repr(site_id)))
            waiting = []
            for old in uow.sync.pending_nodes(site_id):
                if expired_registration(old.registered_at, now):
                    uow.sync.save_node(replace(old, status=NodeStatus.REVOKED.value, revoked_at=now))
                    log_node(uow, now, old.id, "node_register_expired", "granted", "not approved in time", site_id)
                else:
                    waiting.append(old.registered_at)
            verdict = decide_registration(len(waiting))
            if not verdict.allowed:
                log_node(uow, now, node_id, "node_register", "denied", verdict.reason, site_id)
                uow.commit()
                free_in = min(waiting) + PENDING_TTL - now  # the oldest waiting registration expires
                raise RateLimited(verdict.reason, retry_after=max(1, int(free_in.total_seconds()) + 1))
            uow.sync.add_node(NodeRow(node_id, site_id, public_key, log_key, code, NodeStatus.PENDING.value, now))
            log_node(uow, now, node_id, "node_register", "granted", verdict.reason, site_id)
            uow.commit()
        assert self.d.signer is not None
        return {"node_id": node_id, "status": "pending", "central_log_key": self.d.signer.public_key.hex()}

    def _node(self, uow: UnitOfWork, node_id: str) -> NodeRow:
        node = uow.sync.get_node(node_id)
        if node is None:
            raise NotFound(msg("no node %(node)s", node=repr(node_id)))
        return node

    def approve(self, actor: Actor, node_id: str, code: str) -> NodeRow:
        """The first admin: checks the code shown on the node's screen (so the request is that laptop's)."""
        now = self.d.clock()
        with self.d.uow() as uow:
            node = self._node(uow, node_id)
            authorize(
                uow,
                now,
                actor,
                Action.ADMINISTER,
                ADMIN,
                logged_action="admin_approve_node",
                detail=f": node {node_id}",
            )
            if node.status != NodeStatus.PENDING.value:
                raise Conflict(msg("node %(node)s is %(status)s, not pending", node=node_id, status=node.status))
            if code_hash(code, node_id) != node.code_hash:
                uow.rollback()
                log_access(
                    uow, now, actor, "admin_approve_node", ADMIN, "denied", f"wrong one-time code for node {node_id}"
                )
                uow.commit()
                raise Forbidden("this is not the code the node showed at registration")
            approved = replace(node, status=NodeStatus.APPROVED.value, approved_by=actor.user_id)
            uow.sync.save_node(approved)
            uow.commit()
        return approved

    def confirm(self, actor: Actor, node_id: str) -> NodeRow:
        """The second admin (``confirm_node``: not the approver). From now on the node may sync."""
        now = self.d.clock()
        with self.d.uow() as uow:
            node = self._node(uow, node_id)
            authorize(
                uow,
                now,
                actor,
                Action.CONFIRM_NODE,
                ADMIN,
                logged_action="admin_confirm_node",
                detail=f": node {node_id} of site {node.site_id}",
                node_approved_by=node.approved_by if node.status == NodeStatus.APPROVED.value else None,
            )
            active = replace(node, status=NodeStatus.ACTIVE.value, confirmed_by=actor.user_id)
            uow.sync.save_node(active)
            uow.commit()
        return active

    def revoke(self, actor: Actor, node_id: str) -> NodeRow:
        now = self.d.clock()
        with self.d.uow() as uow:
            node = self._node(uow, node_id)
            authorize(
                uow, now, actor, Action.ADMINISTER, ADMIN, logged_action="admin_revoke_node", detail=f": node {node_id}"
            )
            revoked = replace(node, status=NodeStatus.REVOKED.value, revoked_at=now)
            uow.sync.save_node(revoked)
            uow.commit()
        return revoked

    def nodes(self, actor: Actor) -> list[NodeRow]:
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.ADMINISTER, ADMIN, logged_action="admin_list_nodes")
            rows = uow.sync.list_nodes()
            uow.commit()
        return rows

    def captures(self, actor: Actor) -> list[dict[str, Any]]:
        """Offline captures received and waiting, still sealed, for central enrollment (no image, no name)."""
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.ADMINISTER, ADMIN, logged_action="admin_list_captures")
            out = [
                {
                    "id": c.id,
                    "node_id": node_id,
                    "person_id": c.person_id,
                    "modality": c.modality,
                    "position": c.position,
                    "captured_at": c.captured_at.isoformat(),
                }
                for node_id, c in uow.sync.received_captures()
            ]
            uow.commit()
        return out

    def stale(self, actor: Actor) -> list[dict[str, Any]]:
        """Erasures not yet applied everywhere: per node, the erased people it held and has not synced since (so
        the program knows where data may still live)."""
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.ADMINISTER, ADMIN, logged_action="admin_stale_nodes")
            out = []
            for node in uow.sync.list_nodes():
                for pid in uow.sync.held_by(node.id):
                    if uow.people.get(pid) is None:
                        out.append(
                            {
                                "node_id": node.id,
                                "site_id": node.site_id,
                                "person_id": pid,
                                "last_sync_at": node.last_sync_at.isoformat() if node.last_sync_at else None,
                            }
                        )
            uow.commit()
        return out

    # -- authentication -----------------------------------------------------------------------------------------
    def _authenticate(self, uow: UnitOfWork, call: SignedCall, action: str) -> NodeRow:
        now = self.d.clock()
        node = uow.sync.lock_node(call.node_id)
        data = signing_string(call.method, call.path, call.body, call.timestamp_ms, call.nonce)
        valid = node is not None and nodekeys.verify(bytes.fromhex(node.public_key), call.signature, data)
        # the nonce is remembered only for a correctly signed request (nobody else can spend a node's nonces)
        seen = valid and not uow.sync.use_nonce(
            call.node_id, call.nonce[:64], now, now - timedelta(milliseconds=2 * CLOCK_WINDOW_MS)
        )
        decision = decide_node(
            NodeRequest(
                known=node is not None,
                status=NodeStatus(node.status) if node is not None else None,
                signature_valid=valid,
                timestamp_ms=call.timestamp_ms,
                now_ms=int(now.timestamp() * 1000),
                nonce_seen=seen,
            )
        )
        if not decision.allowed:
            uow.rollback()
            log_node(uow, now, call.node_id, action, "denied", decision.reason, node.site_id if node else None)
            uow.commit()
            raise (NotAuthenticated if node is None or not valid else Forbidden)(decision.reason)
        assert node is not None
        return node

    def _refuse(self, uow: UnitOfWork, node: NodeRow, action: str, reason: str, flag: bool) -> Conflict:
        """A refused batch: logged (denied), the node flagged; committed. The caller raises what it returns."""
        now = self.d.clock()
        if flag:
            uow.sync.save_node(replace(node, flag=f"{now.isoformat()}: {reason}"[:1000]))
        log_node(uow, now, node.id, action, "denied", reason, node.site_id)
        uow.commit()
        return Conflict(reason)

    def _sign(self, path: str, payload: dict[str, Any]) -> Answer:
        body = canonical(payload)
        assert self.d.signer is not None
        return Answer(body, self.d.signer.sign_bytes(response_string(path, body)).hex())

    # -- push -------------------------------------------------------------------------------------------------
    def push(self, call: SignedCall) -> Answer:
        """Apply one batch: the next in the node's chain, once (a retry is acknowledged again), with its log
        checked against the last head accepted; a replayed or reordered batch or a rewritten log is refused and
        flags the node. All in one transaction."""
        try:
            batch = json.loads(call.body)
            seq, prev_hash = int(batch["seq"]), str(batch["prev_hash"])
            sealed = bytes.fromhex(str(batch["sealed"])) if "sealed" in batch else None
            changes = [] if sealed is not None else list(batch["changes"])
            log_part = dict(batch["log"])
            captures = list(batch.get("captures", []))
            disclosures = list(batch.get("disclosures", []))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"malformed batch: {exc}") from None
        if batch.get("node_id") != call.node_id:
            raise InvalidInput("the batch names another node than the request")
        digest = sha256_hex(call.body)
        with self.d.uow() as uow:
            node = self._authenticate(uow, call, "sync_push")
            applied = uow.sync.batch(node.id, seq)
            verdict = judge_batch(
                BatchFacts(node.last_seq, node.last_hash, seq, prev_hash, digest, applied[0] if applied else None)
            )
            if verdict is BatchVerdict.ACK_AGAIN:
                assert applied is not None
                uow.commit()  # the nonce
                return Answer(applied[1].encode(), self._sign(call.path, json.loads(applied[1])).signature)
            if verdict is not BatchVerdict.APPLY:
                what = "replayed" if verdict is BatchVerdict.REPLAYED else "reordered"
                raise self._refuse(
                    uow,
                    node,
                    "sync_push",
                    f"{what} batch {seq} (last applied {node.last_seq}): refused, the node is flagged",
                    True,
                )
            if sealed is not None:  # opened only for the next batch of the chain (a replay is refused unopened)
                changes, disclosures = self._open_batch(sealed, node.id, seq)
            if not all(isinstance(x, dict) for x in changes + captures + disclosures):
                raise InvalidInput("malformed batch: every change, capture and disclosure is a JSON object")
            head, leaves = self._check_log(uow, node, log_part)
            disclosed = self._check_disclosures(uow, node, log_part, leaves, disclosures)
            applied_people, review = self._apply(uow, node, changes)
            review += self._receive_captures(uow, node, captures)
            self._keep_disclosures(uow, node, disclosed)
            now = self.d.clock()
            answer = {"status": "applied", "seq": seq, "applied": applied_people, "review": review}
            uow.sync.add_node_leaves(node.id, node.log_size, leaves)
            uow.sync.add_batch(node.id, seq, digest, now, canonical(answer).decode())
            uow.sync.save_node(
                replace(
                    node,
                    last_seq=seq,
                    last_hash=digest,
                    log_size=head.size,
                    log_root=head.root,
                    log_head=head.to_json(),
                    last_sync_at=now,
                )
            )
            uow.commit()
        self.enroll_captures(node.id)
        return self._sign(call.path, answer)

    # -- offline captures: central enrollment ---------------------------------------------------------------------
    def enroll_captures(self, node_id: str) -> dict[str, int]:
        """Enroll the node's offline captures waiting sealed (after each push, outside its transaction: a matcher
        down leaves them waiting for the next sync). Each is opened with the capture key in memory and enrolled
        through the biometric service on behalf of the registrar who made it (``enroll_offline``: consent checked
        now, the program's duplicate check). Enrolled, refused or unusable: the sealed capture is deleted (the
        image is never kept, unless the person granted ``biometric_image_retention``: then as online, sealed
        under their own key). A possible duplicate becomes a task for the person's next visit on the node (codes
        only) and the capture waits sealed for its resolution: twins or false match enroll it with that override
        reason, same person drops it. Returns counts per outcome."""
        key, bio = self.capture_key(), self.biometrics
        counts: dict[str, int] = {}
        if key is None or bio is None:
            return counts
        with self.d.uow(read_only=True) as uow:
            node = uow.sync.get_node(node_id)
            pending = [c for n, c in uow.sync.received_captures() if n == node_id]
            tasks = {c.id: [t for t in uow.sync.tasks_of(c.person_id) if t.capture_id == c.id] for c in pending}
            users = {c.captured_by: uow.users.get(c.captured_by) for c in pending}
        if node is None:
            return counts
        for capture in pending:
            task = tasks[capture.id][-1] if tasks[capture.id] else None
            if task is not None and task.kind == "duplicate" and task.resolution is None:
                continue  # waits for the node's answer at the person's next visit
            override = task.resolution if task is not None and task.resolution in OVERRIDES else None
            user = users.get(capture.captured_by)
            try:
                if task is not None and task.kind == "duplicate" and override is None:
                    status, outcome = "discarded", None  # resolved as the same person: nothing to enroll
                elif user is None:
                    status, outcome = "refused", None
                else:
                    image = key.open(capture.sealed, capture_info(capture.id, capture.person_id, *_where(capture)))
                    outcome = bio.enroll_offline(Actor.of(user), node.site_id, capture, image, override=override)
                    status = outcome.status
                    del image
            except (MatcherUnavailable, StorageUnavailable):
                counts["waiting"] = counts.get("waiting", 0) + 1
                continue
            except CarekeyError:  # e.g. the person was erased meanwhile
                status, outcome = "refused", None
            self._after_enrollment(capture, status, outcome)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _after_enrollment(self, capture: CaptureRow, status: str, outcome: Any) -> None:
        now = self.d.clock()
        with self.d.uow() as uow:
            if uow.people.get(capture.person_id) is None:
                uow.sync.drop_capture(capture.id)
                uow.commit()
                return
            detail = {
                "modality": capture.modality,
                "position": capture.position,
                "captured_at": capture.captured_at.isoformat(),
                "reason": outcome.reason if outcome is not None else status,
            }
            if status == "duplicate":
                detail["candidates"] = [{"person_id": p, "score": sc} for p, sc in outcome.candidates]
                uow.sync.save_task(
                    TaskRow(new_id("TK"), capture.person_id, capture.id, "duplicate", json.dumps(detail), now)
                )
                uow.commit()
                return
            uow.sync.drop_capture(capture.id)  # the sealed image goes: enrolled, refused or to capture again
            if status == "recapture":
                uow.sync.save_task(
                    TaskRow(new_id("TK"), capture.person_id, capture.id, "recapture", json.dumps(detail), now)
                )
            uow.commit()

    def _check_log(self, uow: UnitOfWork, node: NodeRow, part: dict[str, Any]) -> tuple[SignedTreeHead, list[bytes]]:
        """The node's signed head, the new entries and a consistency proof from the last accepted head
        (RFC 9162 section 2.1.4): a head that does not extend it (a rewritten or truncated log) is refused."""
        try:
            head = SignedTreeHead.from_dict(dict(part["head"]))
            leaves = [bytes.fromhex(str(x)) for x in part["entries"]]
            proof = [bytes.fromhex(str(x)) for x in part.get("proof", [])]
            start = int(part["start"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed node log: {exc}") from None
        reason = None
        if not head.verify(bytes.fromhex(node.log_public_key)):
            reason = "the node log's tree head is not signed by the node's log key"
        elif start != node.log_size or head.size != start + len(leaves):
            reason = f"the node log does not continue from the last accepted head (size {node.log_size})"
        elif node.log_size and node.log_root is not None:
            try:
                consistent = verify_consistency(node.log_size, head.size, node.log_root, head.root, proof)
            except (ProofError, ValueError):
                consistent = False
            if not consistent:
                reason = "the node log is not consistent with the last accepted head: rewritten or truncated"
        if reason is None:
            tree = MerkleLog()
            tree.extend(uow.sync.node_leaves(node.id) + leaves)
            if tree.root() != head.root:
                reason = "the pushed node log entries do not make the signed tree head"
        if reason is not None:
            raise self._refuse(uow, node, "sync_push", reason + "; refused, the node is flagged", True)
        return head, leaves

    def _apply(self, uow: UnitOfWork, node: NodeRow, changes: list[Any]) -> tuple[int, list[str]]:
        """The node's changes, within its catchment only: people enrolled at its site or held by it."""
        uow.sync.set_origin(node.id)
        now, count, review = self.d.clock(), 0, []
        for change in changes:
            kind, pid = str(change.get("kind")), str(change.get("id"))
            existing = uow.people.get(pid)
            mine = uow.sync.holds(node.id, pid) or (
                existing is None
                and change.get("enrolled_site") == node.site_id
                and change.get("program_id") == self._program_of(uow, node)  # a node never writes into another program
            )
            if kind == "erase":
                if uow.sync.holds(node.id, pid) and apply_erasure(uow, self.d, pid):
                    log_node(uow, now, node.id, "sync_apply_erase", "granted", "erasure made on the node", node.site_id)
                    count += 1
                continue
            if kind != "person" or not mine or not self._new_rows_at_site(uow, node, change):
                log_node(
                    uow,
                    now,
                    node.id,
                    "sync_apply",
                    "denied",
                    "a change outside the node's catchment",
                    node.site_id,
                    pid,
                )
                review.append(pid)
                continue
            try:
                outcome = apply_snapshot(uow, self.d, change)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # the batch is refused as a whole
                raise InvalidInput(f"malformed change of {pid}: {type(exc).__name__}") from None
            if outcome == "review":
                review.append(pid)
                log_node(uow, now, node.id, "sync_apply", "denied", "card already enrolled: review", node.site_id)
                continue
            uow.sync.hold(node.id, pid)
            log_node(uow, now, node.id, "sync_apply", "granted", f"record {outcome} from the node", node.site_id, pid)
            count += 1
        return count, review

    def _open_batch(self, sealed: bytes, node_id: str, seq: int) -> tuple[list[Any], list[Any]]:
        """The records and disclosures of a batch, sealed by the node to this registry's capture key."""
        key = self.capture_key()
        try:
            if key is None:
                raise ValueError("no capture key")
            personal = json.loads(key.open(sealed, batch_info(node_id, seq)))
            return list(personal["changes"]), list(personal.get("disclosures", []))
        except Exception:  # noqa: BLE001 - whatever fails, the batch is refused, nothing of it applied
            raise InvalidInput("malformed batch: its sealed part does not open with this capture key") from None

    def _receive_captures(self, uow: UnitOfWork, node: NodeRow, captures: list[Any]) -> list[str]:
        """Offline captures of people the node holds, kept sealed for central enrollment; one that does not open
        with the capture key (or names someone outside the catchment) is refused."""
        key, now, refused = self.capture_key(), self.d.clock(), []
        for c in captures:
            try:
                row = CaptureRow(
                    str(c["id"]),
                    str(c["person_id"]),
                    str(c["visit_id"]),
                    str(c["modality"]),
                    str(c["position"]),
                    str(c["captured_by"]),
                    datetime.fromisoformat(str(c["captured_at"])),
                    bytes.fromhex(str(c["sealed"])),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise InvalidInput(f"malformed capture: {exc}") from None
            opens, why = False, "capture refused"
            # a person who withdrew biometric identification here (the node had not pulled it yet): refused
            wanted = Purpose.BIOMETRIC_IDENTIFICATION in consents_of(uow, row.person_id)
            if not wanted:
                why = "capture refused: no biometric_identification consent here"
            if key is not None and wanted and uow.sync.holds(node.id, row.person_id):
                try:
                    key.open(row.sealed, capture_info(row.id, row.person_id, row.modality, row.position))
                    opens = True  # the image itself is not kept in the clear: it waits sealed
                except Exception:  # noqa: BLE001 - any failure to open is a refusal
                    opens = False
            if not opens:
                log_node(uow, now, node.id, "sync_capture", "denied", why, node.site_id, row.person_id)
                refused.append(row.person_id)
                continue
            uow.sync.receive_capture(node.id, row, now)
            log_node(
                uow, now, node.id, "sync_capture", "granted", "sealed capture received", node.site_id, row.person_id
            )
        return refused

    def _check_disclosures(
        self, uow: UnitOfWork, node: NodeRow, log_part: dict[str, Any], leaves: list[bytes], items: list[Any]
    ) -> list[tuple[int, dict[str, Any], bytes]]:
        """The node's entries naming a person (event and salt): each must open the leaf just accepted at its index
        (``audit.leaf``); one that does not refuses the batch (before anything of it is applied)."""
        start, out = int(log_part["start"]), []
        for item in items:
            try:
                idx, event, salt = int(item["idx"]), dict(item["event"]), bytes.fromhex(str(item["salt"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"malformed disclosure: {exc}") from None
            if not 0 <= idx - start < len(leaves) or leaf.leaf_input(event, salt) != leaves[idx - start]:
                raise self._refuse(uow, node, "sync_push", "a disclosed node log entry does not match its leaf", True)
            out.append((idx, event, salt))
        return out

    def _keep_disclosures(self, uow: UnitOfWork, node: NodeRow, items: list[tuple[int, dict[str, Any], bytes]]) -> None:
        """Kept sealed under the person's key for their portal's access list (an erasure shreds them with the
        person); entries about people not held here are not kept."""
        for idx, event, salt in items:
            row = uow.people.get(str(event.get("person_id")))
            if row is None:
                continue
            sealed = self.d.crypto.seal_json(
                data_key(self.d.crypto, row), {"event": event, "salt": salt.hex()}, disclosure_aad(node.id, idx, row.id)
            )
            uow.sync.add_disclosure(node.id, idx, row.id, sealed)

    @staticmethod
    def _program_of(uow: UnitOfWork, node: NodeRow) -> str | None:
        site = uow.programs.get_site(node.site_id)
        return site.program_id if site is not None else None

    @staticmethod
    def _new_rows_at_site(uow: UnitOfWork, node: NodeRow, change: dict[str, Any]) -> bool:
        """The rows a node adds are made at its own site (visits, exams, consents); rows it got from us keep
        theirs. A node never writes into another site's record keeping."""
        pid = str(change.get("id"))
        exams = {e.id for e in uow.exams.for_person(pid)}
        visits = {v.id for v in uow.sync.visits_of(pid)}
        consents = {c.id for c in uow.consents.history(pid)}
        new = [e for e in change.get("exams", []) if e.get("id") not in exams]
        new += [v for v in change.get("visits", []) if v.get("id") not in visits]
        new += [c for c in change.get("consents", []) if c.get("id") not in consents and c.get("site_id")]
        return all(str(r.get("site_id")) == node.site_id for r in new)

    # -- pull -------------------------------------------------------------------------------------------------
    def changes(self, call: SignedCall, after: int) -> Answer:
        """The node's catchment changes after ``after`` (which acknowledges everything before), signed by the
        central log key: people enrolled at its site, seen there, or held by it; erasures of people it holds.
        Never another site's people, never templates or the biometric secret."""
        now = self.d.clock()
        with self.d.uow() as uow:
            node = self._authenticate(uow, call, "sync_pull")
            cursor = max(node.cursor, min(after, uow.sync.feed_head()))
            for pid in uow.sync.held_by(node.id):  # erasures the node has applied: it no longer holds them
                if uow.people.get(pid) is None and uow.sync.erased_at_or_before(pid, cursor):
                    uow.sync.release(node.id, pid)
                    if not uow.sync.holders(pid):  # applied everywhere: the feed forgets the erased id
                        uow.sync.drop_feed(pid, "erase")
            rows = uow.sync.feed(after, PULL_PAGE)
            last = {r.person_id: r.kind for r in rows if r.origin != node.id}  # changes it made itself stay there
            out: list[dict[str, Any]] = []
            for pid, kind in last.items():
                if kind == "erase" or uow.people.get(pid) is None:
                    if uow.sync.holds(node.id, pid) and uow.people.get(pid) is None:
                        out.append({"kind": "erase", "id": pid})
                        log_node(uow, now, node.id, "sync_send_erase", "granted", "erasure sent", node.site_id)
                    continue
                if not self._in_catchment(uow, node, pid):
                    continue
                snap = snapshot(uow, self.d, pid, with_pin=False)
                if snap is None:
                    continue
                out.append(snap)
                uow.sync.hold(node.id, pid)
                log_node(uow, now, node.id, "sync_send", "granted", "catchment record sent", node.site_id, pid)
            payload = {
                "cursor": rows[-1].seq if rows else after,
                "more": len(rows) == PULL_PAGE,
                "changes": out,
                "meta": self._meta(uow, node),
            }
            uow.sync.save_node(replace(node, cursor=cursor, last_sync_at=now))
            uow.commit()
        return self._sign(call.path, payload)

    @staticmethod
    def _in_catchment(uow: UnitOfWork, node: NodeRow, pid: str) -> bool:
        row = uow.people.get(pid)
        if row is None:
            return False
        if row.enrolled_site == node.site_id or uow.sync.holds(node.id, pid):
            return True
        return any(v.site_id == node.site_id for v in uow.sync.visits_of(pid))

    def _meta(self, uow: UnitOfWork, node: NodeRow) -> dict[str, Any]:
        """The program, its sites and its staff (no personal data of persons): what the node's UI and foreign keys
        need. Password hashes go only for the staff of the node's own site, who work on it offline."""
        site = uow.programs.get_site(node.site_id)
        assert site is not None
        program = uow.programs.get_program(site.program_id)
        assert program is not None
        sites = [s for s in uow.programs.list_sites() if s.program_id == program.id]
        ids = {s.id for s in sites}
        staff = []
        for user in uow.users.list():
            if user.site_ids and not user.site_ids & ids:
                continue
            local = node.site_id in user.site_ids and user.active
            found = uow.users.by_username(user.username) if local else None
            staff.append(
                {
                    "id": user.id,
                    "username": user.username,
                    "role": user.role.value,
                    "site_ids": sorted(user.site_ids & ids),
                    "display_name": user.display_name,
                    "active": local,
                    "changed_by": user.changed_by,
                    "approved_by": user.approved_by,
                    "password_hash": found[1] if found else None,
                }
            )
        return {
            "program": {
                "id": program.id,
                "name": program.name,
                "notice_versions": list(program.notice_versions),
                "languages": list(program.languages),
            },
            "sites": [{"id": s.id, "name": s.name, "district": s.district} for s in sites],
            "users": staff,
            "node_site": node.site_id,
            "capture_public_key": key.public_bytes.hex() if (key := self.capture_key()) is not None else None,
        }
