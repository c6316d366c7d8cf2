"""Web routes, one module per screen group."""

from carekey.interfaces.web.routes import (
    accounts,
    admin,
    auditor,
    capture,
    consent,
    enroll,
    exams,
    home,
    identify,
    language,
    manager,
    patient,
    public,
    referrals,
    slip,
    visits,
)

ROUTERS = [
    home.router,
    visits.router,
    identify.router,
    enroll.router,
    consent.router,
    capture.router,
    exams.router,
    slip.router,
    patient.router,
    manager.router,
    auditor.router,
    public.router,
    accounts.router,
    referrals.router,
    language.router,
    admin.router,
]
