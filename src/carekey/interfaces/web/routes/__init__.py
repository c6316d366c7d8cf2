"""Web routes, one module per screen group."""

from carekey.interfaces.web.routes import capture, consent, enroll, exams, home, identify, public, visits

ROUTERS = [home.router, visits.router, identify.router, enroll.router, consent.router, capture.router, exams.router,
           public.router]
