"""Visits: every personal-data route lives under an open visit at one of the user's sites."""

from __future__ import annotations

from fastapi import APIRouter

from carekey.interfaces.api.deps import CurrentActor, Svc
from carekey.interfaces.api.problems import responses
from carekey.interfaces.api.schemas import ExamIn, ExamOut, VisitIn, VisitOut

router = APIRouter(prefix="/visits", tags=["visits"])


@router.post(
    "",
    status_code=201,
    response_model=VisitOut,
    summary="Open a visit",
    description="Open a person-present visit at one of your sites (registrar or clinician).",
    responses=responses(400, 401, 403, 404, 422),
)
def open_visit(body: VisitIn, actor: CurrentActor, svc: Svc) -> VisitOut:
    return VisitOut.of(svc.visits.open(actor, body.site_id))


@router.get("/{visit_id}", response_model=VisitOut, summary="Show a visit", responses=responses(401, 404))
def get_visit(visit_id: str, actor: CurrentActor, svc: Svc) -> VisitOut:
    return VisitOut.of(svc.visits.get(actor, visit_id))


@router.post(
    "/{visit_id}/close",
    response_model=VisitOut,
    summary="Close a visit",
    description="After closing, nothing more can be read or written through this visit.",
    responses=responses(401, 404, 409),
)
def close_visit(visit_id: str, actor: CurrentActor, svc: Svc) -> VisitOut:
    return VisitOut.of(svc.visits.close(actor, visit_id))


@router.post(
    "/{visit_id}/screenings",
    response_model=ExamOut,
    summary="Exam without a record",
    description="Validate an exam and return it for display or printing WITHOUT storing anything: for a "
    "person who did not grant care_record. No person is named.",
    responses=responses(400, 401, 403, 404, 409, 422),
)
def screening(visit_id: str, body: ExamIn, actor: CurrentActor, svc: Svc) -> ExamOut:
    return ExamOut.of(svc.exams.screen_without_record(actor, visit_id, body.model_dump(exclude_none=True)))
