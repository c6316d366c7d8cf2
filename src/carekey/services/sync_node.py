"""A site node's side of the sync (issue 19, docs/sync.md): build push batches from the node's own changes and
log, send them oldest first until acknowledged (resumable, idempotent), pull the catchment's changes and apply
them, and keep the lease.

A batch is built, stored in the outbox and the feed and log positions advanced in ONE transaction; it is then
sent byte for byte until the central registry acknowledges it (a lost answer is a retry the registry acknowledges
without applying again). A pull page is applied and the cursor advanced in one transaction. So a sync cut at any
point (either side killed, the network lost) resumes with the next ``carekey node sync``, losing nothing and
duplicating nothing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from carekey.crypto.capture import batch_info, capture_info
from carekey.crypto.capture import seal as capture_seal
from carekey.domain.ids import new_id
from carekey.domain.program import Program, Site, User, parse_role
from carekey.domain.sync import CENTRAL, canonical, sha256_hex
from carekey.errors import CarekeyError, Conflict, IntegrityError, InvalidInput
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Actor, Deps
from carekey.services.records import load_row
from carekey.services.sync_central import log_node
from carekey.services.sync_link import CentralLink
from carekey.services.sync_records import apply_erasure, apply_snapshot, snapshot
from carekey.services.transparency import publish_head, record_heads
from carekey.services.visits import load_visit
from carekey.storage.protocols import CaptureRow, NodeStateRow, OutboxRow, UnitOfWork

MAX_CHANGES = 500  # people per batch (docs/sync.md: at most 500 changes or 4 MB)
MAX_BYTES = 3 * 1024 * 1024  # records per batch; the log part and the framing stay well below the 4 MiB limit
UNUSABLE_HASH = "!"  # staff of other sites: present for the records' references, never able to sign in here


@dataclass(frozen=True)
class SyncReport:
    pushed: int  # batches acknowledged
    applied_centrally: int  # people the central registry applied from them
    review: list[str]  # people the central registry did not merge (card conflict, outside the catchment)
    received: int  # people received
    erased: int  # erasures applied here
    cursor: int


class NodeSync:
    def __init__(self, deps: Deps, node_id: str) -> None:
        self.d = deps
        self.node_id = node_id

    def start(self, lease_days: int) -> NodeStateRow:
        """The node's sync state, created at ``carekey node init`` (the lease runs from here until a first sync)."""
        with self.d.uow() as uow:
            state = uow.sync.node_state()
            if state is None:
                state = NodeStateRow(self.node_id, 0, 0, "", 0, 0, 0, None, lease_days, self.d.clock())
                uow.sync.save_node_state(state)
                uow.commit()
        return state

    def state(self) -> NodeStateRow:
        with self.d.uow(read_only=True) as uow:
            state = uow.sync.node_state()
        if state is None:
            raise IntegrityError("this data folder is not a site node (run carekey node init)")
        return state

    # -- push -------------------------------------------------------------------------------------------------
    def build_batch(self) -> OutboxRow | None:
        """The node's changes since the last batch (people whose record changed here, erasures made here) and its
        new log entries with a signed head and a consistency proof, as the next batch of the chain."""
        now = self.d.clock()
        with self.d.uow() as uow:
            state = uow.sync.node_state()
            assert state is not None
            rows = uow.sync.feed(state.feed_pushed, 100_000)
            last: dict[str, str] = {}
            for r in rows:
                if r.origin is None:  # made here; changes received from central are never sent back
                    last[r.person_id] = r.kind
            changes: list[dict[str, Any]] = []
            consumed, size = state.feed_pushed, 0
            for r in rows:
                consumed = r.seq
                kind = last.pop(r.person_id, None)
                if kind is None:
                    continue
                if kind == "erase":
                    changes.append({"kind": "erase", "id": r.person_id})
                else:
                    snap = snapshot(uow, self.d, r.person_id, with_pin=True)
                    if snap is None:
                        continue
                    size += len(canonical(snap))
                    changes.append(snap)
                    log_node(
                        uow, now, self.node_id, "sync_push", "granted", "record sent to central", None, r.person_id
                    )
                if len(changes) >= MAX_CHANGES or size >= MAX_BYTES:
                    break
            captures = [
                {
                    "id": c.id,
                    "person_id": c.person_id,
                    "visit_id": c.visit_id,
                    "modality": c.modality,
                    "position": c.position,
                    "captured_by": c.captured_by,
                    "captured_at": c.captured_at.isoformat(),
                    "sealed": c.sealed.hex(),
                }
                for c in uow.sync.take_captures()
            ]
            sth = publish_head(uow, self.d)
            if not changes and not captures and sth.size == state.log_pushed:
                uow.commit()
                return None
            tree = uow.access_log.tree()
            logged = uow.access_log.entries(state.log_pushed, sth.size)
            entries = [e.leaf_input.hex() for e in logged]
            # the entries naming a person, opened (event and salt): the person's portal lists them centrally
            disclosures = [
                {"idx": e.event.seq, "event": e.event.leaf_event(), "salt": e.salt.hex()}
                for e in logged
                if e.event.person_id is not None and e.salt is not None and e.event.seq is not None
            ]
            proof = tree.consistency_proof(state.log_pushed, sth.size) if 0 < state.log_pushed < sth.size else []
            outbox = uow.sync.outbox()
            prev_hash = outbox[-1].hash if outbox else state.acked_hash
            personal: dict[str, Any] = {"changes": changes, "disclosures": disclosures}
            if state.capture_key:
                # sealed to the central registry (HPKE, as captures are): a batch waiting in the outbox (sync cut,
                # network down) holds no record in the clear on the laptop, and a person erased here meanwhile
                # is not readable from it; the chain's hash covers the sealed bytes, resent as they are
                sealed = capture_seal(
                    bytes.fromhex(state.capture_key), canonical(personal), batch_info(self.node_id, state.seq + 1)
                )
                personal = {"sealed": sealed.hex()}
            elif changes or disclosures:
                return None  # never pulled yet (no capture key): these wait for the batch built after the pull
            batch = {
                "node_id": self.node_id,
                "seq": state.seq + 1,
                "prev_hash": prev_hash,
                "created_at": now.isoformat(),
                **personal,
                "captures": captures,
                "log": {
                    "start": state.log_pushed,
                    "entries": entries,
                    "head": sth.to_dict(),
                    "proof": [p.hex() for p in proof],
                },
            }
            body = canonical(batch)
            row = OutboxRow(state.seq + 1, sha256_hex(body), body, now)
            uow.sync.add_outbox(row)
            uow.sync.drop_erasures_until(consumed)  # the erased ids travel in the batch, not kept in the feed
            uow.sync.save_node_state(replace(state, seq=row.seq, feed_pushed=consumed, log_pushed=sth.size))
            uow.commit()
        record_heads(self.d, sth)
        return row

    def send_outbox(self, link: CentralLink) -> tuple[int, int, list[str]]:
        """Every unacknowledged batch, oldest first, until acknowledged; returns (batches, people, review)."""
        sent, applied, review = 0, 0, []
        with self.d.uow(read_only=True) as uow:
            pending = uow.sync.outbox()
        for row in pending:
            answer = link.call("POST", "/sync/push", row.body)
            with self.d.uow() as uow:
                state = uow.sync.node_state()
                assert state is not None
                uow.sync.ack_outbox(row.seq, self.d.clock())
                uow.sync.save_node_state(replace(state, acked_seq=row.seq, acked_hash=row.hash))
                uow.commit()
            sent += 1
            applied += int(answer.get("applied", 0))
            review += [str(x) for x in answer.get("review", [])]
        return sent, applied, review

    # -- pull -------------------------------------------------------------------------------------------------
    def pull(self, link: CentralLink) -> tuple[int, int, int]:
        """Pages of the catchment's changes, each applied with the cursor in one transaction; returns (people
        received, erasures applied, cursor)."""
        received = erased = 0
        while True:
            cursor = self.state().cursor
            answer = link.call("GET", f"/sync/changes?after={cursor}")
            now = self.d.clock()
            with self.d.uow() as uow:
                uow.sync.set_origin(CENTRAL)
                state = uow.sync.node_state()
                assert state is not None
                if state.cursor != cursor:  # another sync of this node ran meanwhile: start this page again
                    continue
                self._apply_meta(uow, answer.get("meta") or {}, now)
                for change in answer.get("changes", []):
                    pid = str(change.get("id"))
                    if change.get("kind") == "erase":
                        if apply_erasure(uow, self.d, pid):
                            log_node(uow, now, "central", "sync_receive_erase", "granted", "erasure from central")
                            erased += 1
                        continue
                    apply_snapshot(uow, self.d, change)
                    log_node(uow, now, "central", "sync_receive", "granted", "catchment record received", None, pid)
                    received += 1
                capture_key = (answer.get("meta") or {}).get("capture_public_key") or state.capture_key
                uow.sync.save_node_state(replace(state, cursor=int(answer["cursor"]), capture_key=capture_key))
                uow.commit()
            if not answer.get("more"):
                return received, erased, int(answer["cursor"])

    def _apply_meta(self, uow: UnitOfWork, meta: dict[str, Any], now: datetime) -> None:
        """The program, its sites and staff accounts, as the central registry has them (no personal data)."""
        if not meta:
            return
        p = meta["program"]
        if uow.programs.get_program(str(p["id"])) is None:
            uow.programs.add_program(
                Program(str(p["id"]), str(p["name"]), tuple(p["notice_versions"]), tuple(p["languages"])), now
            )
        for s in meta.get("sites", []):
            if uow.programs.get_site(str(s["id"])) is None:
                uow.programs.add_site(Site(str(s["id"]), str(p["id"]), str(s["name"]), str(s.get("district", ""))))
        for u in meta.get("users", []):
            user = User(
                str(u["id"]),
                str(u["username"]),
                parse_role(str(u["role"])),
                frozenset(u.get("site_ids", [])),
                str(u.get("display_name", "")),
                bool(u.get("active")),
                u.get("changed_by"),
                u.get("approved_by"),
            )
            held = uow.users.get(user.id)
            hashed = str(u.get("password_hash") or UNUSABLE_HASH)
            if held is None:
                uow.users.add(user, hashed, now)
            elif held != user:
                uow.users.save(user)
                uow.users.set_password(user.id, hashed)
                if not user.active or held.site_ids != user.site_ids or held.role is not user.role:
                    uow.users.end_sessions(user_id=user.id)

    # -- offline captures ----------------------------------------------------------------------------------------
    def capture(
        self,
        actor: Actor,
        visit_id: str,
        purpose: str | None,
        person_id: str,
        modality: str,
        position: str,
        image: bytes,
    ) -> str:
        """A biometric capture made offline, with the person's consent (``enroll_biometric``, decided and logged as
        online): sealed at once to the central capture key (HPKE) and kept only sealed until the next push; the
        central registry checks that it opens and keeps it sealed for central enrollment (extraction and the
        program's duplicate check happen there; not automated yet, docs/sync.md section 8). The node never
        extracts, matches or keeps a template."""
        now = self.d.clock()
        if modality not in ("fingerprint", "iris") or not position.strip():
            raise InvalidInput("name the modality (fingerprint or iris) and the finger or eye", field="modality")
        with self.d.uow() as uow:
            state = uow.sync.node_state()
            if state is None or not state.capture_key:
                raise Conflict("this node has no capture key yet: sync once while online")
            visit = load_visit(uow, visit_id)
            authorize(
                uow,
                now,
                actor,
                Action.ENROLL_BIOMETRIC,
                purpose,
                visit=visit,
                person_id=person_id,
                detail="; sealed for central enrollment",
            )
            load_row(uow, person_id)
            cid = new_id("CP")
            sealed = capture_seal(
                bytes.fromhex(state.capture_key), image, capture_info(cid, person_id, modality, position.strip())
            )
            uow.sync.add_capture(
                CaptureRow(cid, person_id, visit_id, modality, position.strip(), actor.user_id, now, sealed)
            )
            uow.commit()
        return cid

    # -- both -------------------------------------------------------------------------------------------------
    def sync(self, link: CentralLink, lease_days: int) -> SyncReport:
        """``carekey node sync``: what waits in the outbox, then the node's new changes, then the pull, then the
        log entries the pull itself made (so the central copy of the node log is current); then the lease
        starts again."""
        sent, applied, review = self.send_outbox(link)
        self.build_batch()
        s2, a2, r2 = self.send_outbox(link)
        received, erased, cursor = self.pull(link)
        self.build_batch()
        s3, a3, r3 = self.send_outbox(link)
        with self.d.uow() as uow:
            state = uow.sync.node_state()
            assert state is not None
            uow.sync.save_node_state(replace(state, last_sync_at=self.d.clock(), lease_days=lease_days))
            uow.commit()
        return SyncReport(sent + s2 + s3, applied + a2 + a3, review + r2 + r3, received, erased, cursor)


@dataclass(frozen=True)
class SyncOutcome:
    """How the last sync of a served node went (the *Sync now* button and the periodic attempt)."""

    at: datetime
    ok: bool
    trigger: str  # "button" or "periodic"
    error: str | None = None  # the error's message, safe to show (e.g. the central registry cannot be reached)
    report: SyncReport | None = None


class SyncRunner:
    """One sync at a time for a served node (``carekey serve`` on a node folder unlocked with its passphrase):
    the *Sync now* button (``button``: decided as ``sync_node`` and logged) and the periodic attempt of the serve
    process (``periodic``, every ``Settings.node_sync_interval_seconds``). A sync that fails (offline, refused)
    is reported and tried again later; what it did before the failure stays done (the sync is resumable)."""

    def __init__(self, deps: Deps, link: CentralLink, lease_days: int) -> None:
        self.d = deps
        self.link = link
        self.lease_days = lease_days
        self.node = NodeSync(deps, link.node_id)
        self._lock = threading.Lock()
        self.last: SyncOutcome | None = None

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def state(self) -> NodeStateRow:
        return self.node.state()

    def button(self, actor: Actor) -> SyncOutcome:
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.SYNC_NODE, "administration", logged_action="node_sync")
            uow.commit()
        return self.run("button")

    def periodic(self) -> SyncOutcome:
        return self.run("periodic")

    def run(self, trigger: str) -> SyncOutcome:
        if not self._lock.acquire(blocking=False):
            return SyncOutcome(self.d.clock(), False, trigger, "a sync is already running")
        try:
            report = self.node.sync(self.link, self.lease_days)
            outcome = SyncOutcome(self.d.clock(), True, trigger, report=report)
        except CarekeyError as err:
            outcome = SyncOutcome(self.d.clock(), False, trigger, err.message)
        finally:
            self._lock.release()
        self.last = outcome
        return outcome


def outbox_batch(row: OutboxRow) -> dict[str, Any]:
    """A stored batch, decoded (tests and ``carekey node status``)."""
    data = json.loads(row.body)
    assert isinstance(data, dict)
    return data
