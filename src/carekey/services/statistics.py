"""Differentially private statistics for program managers (``carekey.stats``), per program and reporting period.

Who: a program manager is bound to the one program their sites belong to (the policy's ONE PROGRAM rule); a
manager with no site, or with sites in two programs, is refused (403, logged). Every release, listing, export
and push is for that program only; naming another program is refused and logged the same way.

What: a release is for a reporting period (month, quarter, year; ``stats.periods``) and counts the people of the
program who granted ``aggregate_statistics`` and were screened in the period (their latest exam in it, age at
that exam). It is hierarchical (``stats.hierarchy``: total, district, district x sex, district x age band,
consistent, small groups merged). Rows are decrypted here, in memory, handed to ``stats`` and dropped: a caller
only ever gets the noisy figures, never a row.

Budget: epsilon per release is between ``EPSILON_MIN`` and ``Settings.stats_max_release_epsilon`` (422
otherwise, nothing charged); the program's budget for the period (``Settings.privacy_budget_epsilon``) is charged
before any noise is drawn, in the transaction that appended the release to the access log (which holds the log
lock: concurrent releases cannot overspend); past it: BudgetExhausted, logged as denied. The released figures
are stored (``stats_releases``) so that they can be shown, downloaded and pushed to DHIS2 without spending again.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx

from carekey.domain.purposes import Purpose
from carekey.errors import BudgetExhausted, Conflict, InvalidInput, NotFound, UpstreamFailed
from carekey.policy.decision import Action
from carekey.services.access import authorize, log_access
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, open_exam, open_person_or_none
from carekey.stats import periods
from carekey.stats.budget import PrivacyLedger
from carekey.stats.exports import Dhis2Mapping, Dhis2Payload, data_value_set, import_summary, mapping_template
from carekey.stats.hierarchy import hierarchical_release
from carekey.stats.published import PublishedRelease
from carekey.stats.records import ScreeningRecord
from carekey.stats.releases import Statistic
from carekey.storage.protocols import UnitOfWork

STATISTICS = tuple(s.value for s in Statistic)
#: Smallest epsilon a release may ask for: below it every figure is noise (scale > 100 people per level).
EPSILON_MIN = 0.01
STATS = Purpose.AGGREGATE_STATISTICS.value


@dataclass(frozen=True)
class PeriodBudget:
    period: str
    label: str
    limit: float
    spent: float
    remaining: float


@dataclass(frozen=True)
class BudgetView:
    program_id: str
    period: str
    limit: float
    spent: float
    remaining: float
    releases: list[dict[str, object]]  # epsilon, label, at of each release of the period
    open_periods: list[PeriodBudget]  # what is left in every period a manager can report on today


@dataclass(frozen=True)
class PushResult:
    period: str
    sent_values: int
    skipped: int
    releases: list[str]
    summary: dict[str, object]


def check_release_epsilon(value: object, cap: float) -> float:
    """A release's epsilon: a real number in [EPSILON_MIN, cap]; anything else is InvalidInput (422)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("epsilon must be a number", field="epsilon")
    eps = float(value)
    if not math.isfinite(eps) or not EPSILON_MIN <= eps <= cap:
        raise InvalidInput(
            f"epsilon must be between {EPSILON_MIN:g} and {cap:g} (the per-release cap)",
            field="epsilon",
            minimum=EPSILON_MIN,
            maximum=cap,
        )
    return eps


def programs_of(uow: UnitOfWork, actor: Actor) -> frozenset[str]:
    """The programs the actor's sites belong to (the policy wants exactly one: ``policy.decide``, ONE PROGRAM)."""
    return frozenset(s.program_id for s in uow.programs.list_sites() if s.id in actor.site_ids)


class StatisticsService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    # -- who and for what ---------------------------------------------------------------------------------

    def _authorize(
        self, uow: UnitOfWork, now: datetime, actor: Actor, purpose: str | None, program_id: str | None
    ) -> str:
        """Policy (role, purpose) and the program wall; a refusal is logged and committed, then raised."""
        programs = programs_of(uow, actor)
        authorize(uow, now, actor, Action.STATISTICS, purpose, actor_programs=programs, program_id=program_id)
        (program,) = programs  # the policy allowed: exactly one
        return program

    def _deny(self, uow: UnitOfWork, now: datetime, actor: Actor, reason: str) -> None:
        uow.rollback()  # drop the "granted" entry: this request is denied
        log_access(uow, now, actor, Action.STATISTICS.value, STATS, "denied", reason)
        uow.commit()

    def _period(self, period: str | None) -> periods.Period:
        today = self.d.clock().date()
        p = periods.containing(today)[1] if period is None else periods.parse(period)
        if not p.started_by(today):
            raise InvalidInput(f"period {p.id} has not started yet", field="period")
        return p

    def _districts(self, uow: UnitOfWork, program: str) -> list[str]:
        districts = sorted({s.district for s in uow.programs.list_sites() if s.program_id == program and s.district})
        if not districts:
            raise InvalidInput("the program's sites name no district to count by")
        return districts

    def _rows(self, uow: UnitOfWork, program_id: str, period: periods.Period) -> list[ScreeningRecord]:
        """One row per consenting person screened in the period: their latest exam in it, age at that exam."""
        granted = uow.consents.latest_decisions(Purpose.AGGREGATE_STATISTICS.value)
        rows = []
        for prow in uow.people.in_program(program_id):
            if not granted.get(prow.id):
                continue
            exams = [e for e in uow.exams.for_person(prow.id) if period.contains(e.recorded_at)]
            if not exams:
                continue
            person = open_person_or_none(self.d.crypto, prow)
            if person is None:
                continue
            row = max(exams, key=lambda e: e.recorded_at)
            latest = open_exam(self.d.crypto, data_key(self.d.crypto, prow), row)
            rows.append(
                ScreeningRecord(
                    district=person.district,
                    sex=person.sex.value,
                    age=person.age(row.recorded_at.date()),
                    systolic=None if latest.systolic_bp is None else round(latest.systolic_bp),
                    diastolic=None if latest.diastolic_bp is None else round(latest.diastolic_bp),
                    weight_kg=latest.weight_kg,
                    height_cm=latest.height_cm,
                    blood_type=latest.blood_type.value if latest.blood_type else None,
                    fasting_glucose_mmol=latest.glucose_mmol_l,
                    unit=prow.id,
                )
            )
        return rows

    # -- release ------------------------------------------------------------------------------------------

    def release(
        self,
        actor: Actor,
        purpose: str | None,
        statistic: str,
        epsilon: float,
        program_id: str | None = None,
        period: str | None = None,
    ) -> dict[str, object]:
        """One hierarchical DP release for a period; returns its figures, its id and the period's budget."""
        now = self.d.clock()
        settings = self.d.settings
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, program_id)
            try:
                stat = Statistic(statistic)
            except ValueError:
                raise InvalidInput(
                    f"unknown statistic {statistic!r}; one of {', '.join(STATISTICS)}", field="statistic"
                ) from None
            eps = check_release_epsilon(epsilon, settings.stats_max_release_epsilon)
            p = self._period(period)
            districts = self._districts(uow, program)
            ledger = PrivacyLedger(uow.budget, settings.privacy_budget_epsilon)
            label = f"{stat} for {p.id}: total, district, district x sex, district x age band"

            def charge(certified: float) -> None:
                ledger.charge(program, certified, label, p.id)

            try:
                result = hierarchical_release(
                    stat,
                    self._rows(uow, program, p),
                    districts=districts,
                    epsilon=eps,
                    min_cell=settings.stats_min_cell,
                    before_noise=charge,
                )
            except BudgetExhausted as err:
                self._deny(uow, now, actor, f"privacy budget of {p.id} exhausted: {err.message}")
                raise
            body = result.to_dict() | {
                "program_id": program,
                "period": p.id,
                "period_label": p.label,
                "released_at": now.isoformat(),
            }
            published = PublishedRelease(
                f"R-{secrets.token_hex(6)}", program, p.id, str(stat), result.epsilon, now, actor.user_id, body
            )
            uow.releases.add(published)
            uow.commit()
            spent, limit = ledger.spent(program, p.id), ledger.limit(program)
        return body | {
            "id": published.id,
            "epsilon_spent": spent,
            "epsilon_limit": limit,
            "epsilon_remaining": max(limit - spent, 0.0),
        }

    # -- budget and past releases -------------------------------------------------------------------------

    def budget(
        self, actor: Actor, purpose: str | None, program_id: str | None = None, period: str | None = None
    ) -> BudgetView:
        now = self.d.clock()
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, program_id)
            p = self._period(period)
            ledger = PrivacyLedger(uow.budget, self.d.settings.privacy_budget_epsilon)
            spends = ledger.store.spends(program, p.id)
            opened = [
                PeriodBudget(
                    o.id, o.label, ledger.limit(program), ledger.spent(program, o.id), ledger.remaining(program, o.id)
                )
                for o in periods.open_periods(now.date())
            ]
            view = BudgetView(
                program,
                p.id,
                ledger.limit(program),
                ledger.spent(program, p.id),
                ledger.remaining(program, p.id),
                [{"epsilon": s.epsilon, "label": s.label, "at": s.at.isoformat()} for s in spends],
                opened,
            )
            uow.commit()
        return view

    def releases(self, actor: Actor, purpose: str | None, period: str | None = None) -> list[PublishedRelease]:
        now = self.d.clock()
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, None)
            p = None if period is None else periods.parse(period).id
            out = list(uow.releases.list(program, p))
            uow.commit()
        return out

    def get_release(self, actor: Actor, purpose: str | None, release_id: str) -> PublishedRelease:
        """A past release of the actor's program (another program's is NotFound, and logged)."""
        now = self.d.clock()
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, None)
            rel = uow.releases.get(release_id)
            if rel is None or rel.program_id != program:
                self._deny(uow, now, actor, f"no release {release_id[:40]!r} in this account's program")
                raise NotFound("no such release in your program")
            uow.commit()
        return rel

    # -- DHIS2 --------------------------------------------------------------------------------------------

    def mapping(self) -> Dhis2Mapping:
        path = self.d.settings.resolved_dhis2_mapping_file()
        if not path.is_file():
            raise InvalidInput(
                f"no DHIS2 mapping file at {path}: write one with `carekey stats mapping init` and "
                "fill in your DHIS2 UIDs",
                field="mapping",
            )
        return Dhis2Mapping.parse(path.read_text(encoding="utf-8"))

    def mapping_template(self, actor: Actor, purpose: str | None) -> dict[str, object]:
        now = self.d.clock()
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, None)
            districts = self._districts(uow, program)
            uow.commit()
        return mapping_template(districts)

    def dhis2_payload(self, actor: Actor, purpose: str | None, release_id: str) -> Dhis2Payload:
        rel = self.get_release(actor, purpose, release_id)
        return data_value_set([rel], self.mapping())

    def push(self, actor: Actor, purpose: str | None, period: str) -> PushResult:
        """Post the period's not-yet-sent releases to DHIS2; mark them sent only when DHIS2 accepted all values.

        The grant is logged (and committed) before anything leaves; a failure (HTTP 4xx/5xx, timeout, an import
        summary that is not SUCCESS) is logged as denied with DHIS2's answer and marks nothing as sent."""
        settings = self.d.settings
        now = self.d.clock()
        with self.d.uow() as uow:
            program = self._authorize(uow, now, actor, purpose, None)  # who asks is decided before any state is told
            uow.commit()
        p = periods.parse(period)
        if not settings.dhis2_url:  # a state of this server, not an error in the request
            raise Conflict("no DHIS2 server configured (CAREKEY_DHIS2_URL)", field="dhis2_url")
        mapping = self.mapping()
        with self.d.uow() as uow:
            todo = [x for x in uow.releases.list(program, p.id) if x.sent_at is None]
            if not todo:
                raise Conflict(f"nothing to send for {p.id}: no release, or all already sent", field="period")
            payload = data_value_set(todo, mapping)
            log_access(
                uow,
                now,
                actor,
                "statistics_push",
                STATS,
                "granted",
                f"DHIS2 push of {payload.values} released values for {p.id} ({len(todo)} release(s))",
            )
            uow.commit()  # logged before anything leaves
        ok, summary = self._post(payload)
        with self.d.uow() as uow:
            if not ok:
                log_access(
                    uow,
                    self.d.clock(),
                    actor,
                    "statistics_push",
                    STATS,
                    "denied",
                    f"DHIS2 push for {p.id} failed: {summary.get('description') or summary.get('status')}",
                )
                uow.commit()
                raise UpstreamFailed(
                    f"DHIS2 did not accept the values for {p.id}; nothing is marked as sent: "
                    f"{summary.get('description') or summary.get('status')}",
                    dhis2_status=str(summary.get("status", "")),
                )
            uow.releases.mark_sent([x.id for x in todo], self.d.clock(), summary)
            uow.commit()
        return PushResult(p.id, payload.values, payload.skipped, [x.id for x in todo], summary)

    def _post(self, payload: Dhis2Payload) -> tuple[bool, dict[str, object]]:
        s = self.d.settings
        url = f"{str(s.dhis2_url).rstrip('/')}/api/dataValueSets"
        headers = {"Accept": "application/json"}
        auth = None
        if s.dhis2_token is not None:
            headers["Authorization"] = f"ApiToken {s.dhis2_token.get_secret_value()}"
        elif s.dhis2_username and s.dhis2_password is not None:
            auth = httpx.BasicAuth(s.dhis2_username, s.dhis2_password.get_secret_value())
        try:
            resp = httpx.post(
                url,
                json=payload.body,
                headers=headers,
                auth=auth,
                timeout=s.dhis2_timeout_seconds,
                params={"importStrategy": "CREATE_AND_UPDATE"},
            )
        except httpx.TimeoutException:
            return False, {"status": "ERROR", "description": f"no answer within {s.dhis2_timeout_seconds:g} s"}
        except httpx.HTTPError as err:
            return False, {"status": "ERROR", "description": f"cannot reach DHIS2: {type(err).__name__}"}
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        ok, summary = import_summary(answer)
        if resp.status_code >= 400:
            summary = {"status": "ERROR", "description": f"HTTP {resp.status_code}"} | {
                k: v for k, v in summary.items() if k != "status"
            }
            return False, summary
        return ok, summary
