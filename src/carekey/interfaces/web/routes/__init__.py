"""Web routes, one module per screen group."""

from carekey.interfaces.web.routes import (
    accounts,
    auditor,
    capture,
    consent,
    enroll,
    exams,
    home,
    identify,
    manager,
    patient,
    public,
    slip,
    visits,
)

ROUTERS = [home.router, visits.router, identify.router, enroll.router, consent.router, capture.router, exams.router,
           slip.router, patient.router, manager.router, auditor.router, public.router, accounts.router]
