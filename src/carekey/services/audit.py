"""The auditor's check of the stored transparency log (``carekey log verify``, GET /audit/verify).

``carekey.audit.verify.verify_log`` recomputes the tree from the stored leaves and checks it against every
signed tree head (those stored in the database and those saved elsewhere, e.g. by ``carekey log head
--save``), using the recorded node hashes to name the exact entry that was modified, removed, inserted or
reordered. On top of it this service checks that each entry's visible fields (who, what, why, when,
outcome) still match the salted commitment in its leaf, so editing a row's purpose or outcome is caught
even when ``leaf_input`` is left alone. The report holds leaf indexes and problem kinds, no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

from carekey.audit import leaf
from carekey.audit.sth import SignedTreeHead, trusted_keys
from carekey.audit.verify import VerificationReport, verify_log
from carekey.errors import IntegrityError, NotFound
from carekey.policy.decision import Action
from carekey.services.access import authorize, check_policy
from carekey.services.deps import Actor, Deps

BATCH = 5000


class AuditService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def verify(self, actor: Actor, purpose: str | None,
               saved_heads: Sequence[SignedTreeHead] = ()) -> VerificationReport:
        if self.d.signer is None:
            raise NotFound("this carekey instance has no log signing key")
        with self.d.uow() as uow:
            try:
                authorize(uow, self.d.clock(), actor, Action.VERIFY_LOG, purpose)
                uow.commit()  # the audit itself is logged first, then checked like every other entry
                unwritable = None
            except IntegrityError as err:  # the log refuses appends (tree and rows disagree): audit it anyway
                uow.rollback()
                check_policy(actor, Action.VERIFY_LOG, purpose)
                unwritable = err.message
            entries = uow.access_log.leaves()
            heads = [*uow.tree_heads.all(), *saved_heads]
            keys = trusted_keys(self.d.signer.public_key, uow.log_keys.all())  # heads of rotated-out keys too
            report = verify_log(entries, heads, keys, uow.access_log.tree().store)
            size = uow.access_log.size()
            for start in range(0, size, BATCH):
                for e in uow.access_log.entries(start, start + BATCH):
                    if e.salt is not None and leaf.leaf_input(e.event.leaf_event(), e.salt) != e.leaf_input:
                        report.add("modified", e.event.seq,
                                   f"entry {e.event.seq}: its fields do not match the commitment in its leaf")
            if unwritable:
                report.add("log_blocked", None, f"appends are refused until this is resolved: {unwritable}")
        return report
