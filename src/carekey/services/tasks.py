"""Tasks for a person's next visit on a site node (issue 19, docs/sync.md): the central enrollment of an offline
capture found a possible duplicate (the capture matches people already enrolled in the program), or the capture
could not be used. They arrive with the person's record at a sync and are shown on the visit page; the registrar
answers a duplicate in a visit serving the person, with the person: twins, not the same person (false match), or
the same person. The answer goes back at the next sync, where the central registry enrolls the capture with that
override reason or drops it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from carekey.domain.purposes import Purpose
from carekey.errors import InvalidInput, NotFound, msg
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Actor, Deps
from carekey.services.visits import load_visit

RESOLUTIONS = {
    "duplicate": ("twins", "false_match", "same_person"),
    "recapture": ("recaptured",),
    "conflict": ("checked",),
}


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    created_at: datetime
    modality: str
    position: str
    captured_at: str
    reason: str
    candidates: list[dict[str, Any]]  # codes and scores only
    resolution: str | None


class TaskService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def open_for(self, person_id: str) -> list[Task]:
        """The person's open tasks: part of the record the caller has just read (authorized and logged there)."""
        with self.d.uow(read_only=True) as uow:
            rows = [t for t in uow.sync.tasks_of(person_id) if t.resolved_at is None]
        out = []
        for t in rows:
            d = json.loads(t.detail)
            out.append(
                Task(  # a conflict names its field in "position"
                    t.id,
                    t.kind,
                    t.created_at,
                    str(d.get("modality", "")),
                    str(d.get("position", d.get("field", ""))),
                    str(d.get("captured_at", ""))[:10],
                    str(d.get("reason", "")),
                    list(d.get("candidates", [])),
                    t.resolution,
                )
            )
        return out

    def conflicts(self, actor: Actor) -> list[dict[str, Any]]:
        """The review list of demographic conflicts (``carekey node conflicts``): person codes and field names,
        never values (an admin action, logged)."""
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.ADMINISTER, "administration", logged_action="admin_conflicts")
            out = [
                {
                    "task_id": t.id,
                    "person_id": t.person_id,
                    "field": json.loads(t.detail).get("field"),
                    "since": t.created_at.isoformat(),
                }
                for t in uow.sync.open_tasks("conflict")
            ]
            uow.commit()
        return out

    def resolve(
        self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, task_id: str, resolution: str
    ) -> None:
        """The registrar's answer, with the person, in a visit serving them: decided like a capture
        (``enroll_biometric``: the visit is the person's, the person grants biometric identification) and logged
        as ``resolve_capture_task``."""
        now = self.d.clock()
        with self.d.uow() as uow:
            task = next((t for t in uow.sync.tasks_of(person_id) if t.id == task_id), None)
            if task is None or task.resolved_at is not None:
                raise NotFound(msg("no open task %(task)s for this person", task=repr(task_id)))
            if resolution not in RESOLUTIONS.get(task.kind, ()):
                raise InvalidInput(
                    msg("answer one of %(choices)s", choices=", ".join(RESOLUTIONS.get(task.kind, ()))),
                    field="resolution",
                )
            visit = load_visit(uow, visit_id)
            conflict = task.kind == "conflict"  # checked with the person like an edit of their record
            authorize(
                uow,
                now,
                actor,
                Action.EDIT_PERSON if conflict else Action.ENROLL_BIOMETRIC,
                Purpose.CARE_RECORD.value if conflict else purpose,
                visit=visit,
                person_id=person_id,
                logged_action="resolve_capture_task",
                detail=f"; {task.kind} task {task.id} answered: {resolution}",
            )
            uow.sync.save_task(replace(task, resolved_at=now, resolution=resolution, resolved_by=actor.user_id))
            if visit is not None and visit.person_id is None:
                uow.visits.save(visit.bind(person_id))
            uow.commit()
