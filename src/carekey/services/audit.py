"""The auditor's check of the stored transparency log (``carekey log verify``, GET /audit/verify).

``carekey.audit.verify.verify_log`` recomputes the tree from the stored leaves and checks it against every
signed tree head (those stored in the database, those in the heads file outside it (``carekey.storage.heads``,
checked by default: a missing or unreadable heads file is itself a problem) and those saved elsewhere, e.g. by
``carekey log head --save`` or a witness), using the recorded node hashes to name the exact entry that was
modified, removed, inserted or reordered. On top of it this service checks that each entry's visible fields
(who, what, why, when, outcome) still match the salted commitment in its leaf, so editing a row's purpose or
outcome is caught even when ``leaf_input`` is left alone. The report holds leaf indexes and problem kinds,
no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

from carekey.audit import leaf
from carekey.audit.promise import EntryPromise
from carekey.audit.sth import SignedTreeHead, trusted_keys
from carekey.audit.verify import PromiseCheck, PromisedEntry, VerificationReport, verify_log
from carekey.errors import IntegrityError, NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Actor, Deps
from carekey.services.transparency import integrate, record_heads
from carekey.storage.heads import HeadsFileError

BATCH = 5000


class AuditService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def _file_heads(self) -> tuple[list[SignedTreeHead], str | None, str | None]:
        """(heads in the heads file, problem kind, detail) - the kind is None when the file was read."""
        heads = self.d.heads
        if heads is None:
            return [], None, None
        if not heads.exists():
            return (
                [],
                "heads_file_missing",
                (
                    f"the heads file {heads.path} is missing: signed tree heads kept "
                    "outside the database cannot be checked; restore it from a backup"
                ),
            )
        try:
            return heads.read(), None, None
        except (OSError, HeadsFileError) as err:
            return [], "heads_file_unreadable", f"the heads file cannot be read: {err}"

    def verify(
        self,
        actor: Actor,
        purpose: str | None,
        saved_heads: Sequence[SignedTreeHead] = (),
        heads_file: bool = True,
        saved_promises: Sequence[EntryPromise] = (),
    ) -> VerificationReport:
        if self.d.signer is None:
            raise NotFound("this carekey instance has no log signing key")
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.VERIFY_LOG, purpose)
            uow.commit()  # the audit itself is logged first, then checked like every other entry
            try:
                signed = integrate(uow, self.d)  # every committed entry (this audit's too) under a signed head
                uow.commit()
                unwritable = None
            except IntegrityError as err:  # the log refuses integration (a cut or rewritten log): audit it anyway
                uow.rollback()
                unwritable, signed = err.message, None
            now_ms = int(self.d.clock().timestamp() * 1000)
            entries = uow.access_log.leaves()
            file_heads, file_problem, file_detail = self._file_heads() if heads_file else ([], None, None)
            stored = uow.tree_heads.all()
            in_db = set(stored)
            deleted = [h for h in file_heads if h not in in_db]  # every file head was committed first
            heads = _unique([*stored, *file_heads, *saved_heads])
            keys = trusted_keys(self.d.signer.public_key, uow.log_keys.all())  # heads of rotated-out keys too
            report = verify_log(entries, heads, keys, uow.access_log.tree().store)
            if file_problem is not None and entries:
                report.add(file_problem, None, str(file_detail))
            if deleted:
                report.add(
                    "heads_removed",
                    None,
                    f"{len(deleted)} signed tree head(s) in the heads file are missing "
                    f"from the database (largest: size {max(h.size for h in deleted)})",
                )
            size = uow.access_log.size()
            for start in range(0, size, BATCH):
                for e in uow.access_log.entries(start, start + BATCH):
                    if e.salt is not None and leaf.leaf_input(e.event.leaf_event(), e.salt) != e.leaf_input:
                        report.add(
                            "modified",
                            e.event.seq,
                            f"entry {e.event.seq}: its fields do not match the commitment in its leaf",
                        )
            promises = PromiseCheck(heads, keys, now_ms, report)
            start = 0
            while batch := uow.access_log.promised(start, BATCH):
                for e in batch:
                    promises.add(PromisedEntry(e.entry_id, e.event.seq, e.leaf_input, e.promise))
                start = batch[-1].entry_id + 1
            promises.saved(saved_promises)
            report.promises_checked = promises.checked
            if unwritable and heads_file:  # (refusals come from heads; without the file the database's own show)
                report.add("log_blocked", None, f"integration is refused until this is resolved: {unwritable}")
        if signed is not None:
            record_heads(self.d, signed)
        return report


def _unique(heads: list[SignedTreeHead]) -> list[SignedTreeHead]:
    """The same head stored in the database and in the heads file is checked once."""
    return list(dict.fromkeys(heads))  # first occurrences, in order
