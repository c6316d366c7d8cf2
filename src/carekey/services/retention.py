"""Retention: delete records not seen for ``Settings.retention_years`` and what revocations left behind.

- a person whose ``last_seen_at`` is older than the period is erased (rows deleted, data key destroyed:
  crypto-shredding, as ``erase_person``);
- biometric templates of a person whose latest ``biometric_identification`` decision is not a grant are
  deleted (revocation already deletes them at once; this sweeps anything an interrupted revocation left);
- kept enrollment images of a person who does not (or no longer) grant both ``biometric_image_retention`` and
  ``biometric_identification`` are deleted (the same sweep, for images);
- templates protected under a retired biometric key version (``carekey keys rotate-biometric``) are
  deleted: they are no longer searched and the secret that made them is gone.
Before all that, ``run`` finishes any erasure or revocation a crash left between its commit and the destruction
of its keys (phase 2 of the two-phase erasure, ``carekey.storage.sql.shreds``).
Each deletion is its own unit of work: authorized (admin, purpose administration, action retention_delete)
and appended to the access log with the person's id, then committed. Re-checked inside the transaction,
so a person seen since the plan was made is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carekey.domain.program import Role
from carekey.domain.purposes import Purpose
from carekey.policy.decision import Action
from carekey.services.access import authorize, consents_of
from carekey.services.deps import Actor, Deps
from carekey.services.images import delete_kept_images
from carekey.services.people import erase_person
from carekey.storage.protocols import UnitOfWork

RETENTION_JOB = Actor("retention-job", "retention-job", Role.ADMIN, frozenset())
Progress = Callable[[Iterable[tuple[str, str]], str, int], Iterator[tuple[str, str]]]


@dataclass(frozen=True)
class RetentionPlan:
    cutoff: datetime
    expired: list[str]  # person ids not seen since the cutoff
    orphan_templates: list[str]  # person ids holding templates without biometric consent
    retired_templates: list[str] = field(default_factory=list)  # person ids holding retired-version templates
    orphan_images: list[str] = field(default_factory=list)  # person ids holding images without the consents

    def tasks(self) -> list[tuple[str, str]]:
        done = set(self.expired) | set(self.orphan_templates)
        return (
            [("erase", p) for p in self.expired]
            + [("templates", p) for p in self.orphan_templates if p not in set(self.expired)]
            + [("retired", p) for p in self.retired_templates if p not in done]
            + [("images", p) for p in self.orphan_images if p not in done]
        )


@dataclass
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    erased: list[str] = field(default_factory=list)
    templates_deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # seen or re-consented since the plan
    retired_templates_deleted: list[str] = field(default_factory=list)  # old biometric key version
    images_deleted: list[str] = field(default_factory=list)  # kept images without the consents
    keys_recovered: int = 0  # keys of interrupted erasures / revocations destroyed now (phase 2 finished)


def _may_keep_images(uow: UnitOfWork, person_id: str) -> bool:
    grants = consents_of(uow, person_id)
    return Purpose.BIOMETRIC_IMAGE_RETENTION in grants and Purpose.BIOMETRIC_IDENTIFICATION in grants


def cutoff_for(now: datetime, years: int) -> datetime:
    return now - timedelta(days=round(365.25 * years))


class RetentionService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def plan(self, years: int | None = None) -> RetentionPlan:
        cutoff = cutoff_for(self.d.clock(), years or self.d.settings.retention_years)
        with self.d.uow(read_only=True) as uow:
            expired = uow.people.not_seen_since(cutoff)
            grants = uow.consents.latest_decisions(Purpose.BIOMETRIC_IDENTIFICATION.value)
            orphans = [p for p in uow.biometrics.person_ids() if not grants.get(p)]
            version = self.d.biometric_key_version
            retired = uow.biometrics.retired_person_ids(version) if version else []
            images = [p for p in uow.images.person_ids() if not _may_keep_images(uow, p)]
        return RetentionPlan(cutoff, expired, orphans, retired, images)

    def run(
        self,
        years: int | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        actor: Actor = RETENTION_JOB,
    ) -> RetentionReport:
        recovered = 0 if dry_run else self.recover()
        plan = self.plan(years)
        report = RetentionReport(plan.cutoff, dry_run, keys_recovered=recovered)
        tasks = plan.tasks()
        if dry_run:
            report.erased = [p for k, p in tasks if k == "erase"]
            report.templates_deleted = [p for k, p in tasks if k == "templates"]
            report.retired_templates_deleted = [p for k, p in tasks if k == "retired"]
            report.images_deleted = [p for k, p in tasks if k == "images"]
            return report
        for kind, person_id in progress(tasks, "retention", len(tasks)) if progress else tasks:
            if kind == "erase":
                done, into = self._erase(actor, person_id, plan.cutoff), report.erased
            elif kind == "retired":
                done, into = self._retired(actor, person_id), report.retired_templates_deleted
            elif kind == "images":
                done, into = self._images(actor, person_id), report.images_deleted
            else:
                done, into = self._templates(actor, person_id), report.templates_deleted
            (into if done else report.kept).append(person_id)
        return report

    def recover(self) -> int:
        """Finish every deletion left between its commit and the destruction of its keys; idempotent."""
        with self.d.uow() as uow:
            count = uow.shreds.resume()
            uow.commit()
        return count

    def _erase(self, actor: Actor, person_id: str, cutoff: datetime) -> bool:
        with self.d.uow() as uow:
            row = uow.people.get(person_id)
            if row is None or row.last_seen_at >= cutoff:
                return False
            authorize(
                uow, self.d.clock(), actor, Action.RETENTION_DELETE, Purpose.ADMINISTRATION.value, person_id=person_id
            )
            erase_person(uow, self.d, person_id)
            uow.commit()
        return True

    def _templates(self, actor: Actor, person_id: str) -> bool:
        with self.d.uow() as uow:
            grants = uow.consents.latest_decisions(Purpose.BIOMETRIC_IDENTIFICATION.value)
            if grants.get(person_id) or not uow.biometrics.for_person(person_id):
                return False
            authorize(
                uow, self.d.clock(), actor, Action.RETENTION_DELETE, Purpose.ADMINISTRATION.value, person_id=person_id
            )
            uow.biometrics.delete_for_person(person_id)
            delete_kept_images(uow, person_id)
            uow.commit()
        return True

    def _retired(self, actor: Actor, person_id: str) -> bool:
        version = self.d.biometric_key_version
        with self.d.uow() as uow:
            if not version or person_id not in uow.biometrics.retired_person_ids(version):
                return False
            authorize(
                uow, self.d.clock(), actor, Action.RETENTION_DELETE, Purpose.ADMINISTRATION.value, person_id=person_id
            )
            uow.biometrics.delete_retired(version, person_id=person_id)
            uow.commit()
        return True

    def _images(self, actor: Actor, person_id: str) -> bool:
        with self.d.uow() as uow:
            if _may_keep_images(uow, person_id) or not uow.images.count_for_person(person_id):
                return False
            authorize(
                uow, self.d.clock(), actor, Action.RETENTION_DELETE, Purpose.ADMINISTRATION.value, person_id=person_id
            )
            delete_kept_images(uow, person_id)
            uow.commit()
        return True
