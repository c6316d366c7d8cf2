"""FastAPI dependencies: the services, the authenticated actor, and the purpose header.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, a hop
to a worker thread and back that costs more CPU than the dependency itself (``bench/results/load_profile.md``).
The token check reads the database, so it stays a plain function (run in the pool, off the event loop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carekey.errors import NotAuthenticated
from carekey.interfaces.api.problems import ApiProblem
from carekey.services.container import Services
from carekey.services.deps import Actor
from carekey.services.patients import Patient

PURPOSE_HEADER = "X-Carekey-Purpose"
_bearer = HTTPBearer(auto_error=False, description="Opaque token from POST /auth/token")


def services_of(request: Request) -> Services:
    return request.app.state.carekey.services


async def services(request: Request) -> Services:
    return services_of(request)


def actor(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    if creds is None or creds.scheme.lower() != "bearer":
        raise NotAuthenticated("send Authorization: Bearer <token> (from POST /auth/token)")
    return services_of(request).auth.authenticate(creds.credentials)


def bearer_token(creds: HTTPAuthorizationCredentials | None, where: str) -> str:
    if creds is None or creds.scheme.lower() != "bearer":
        raise NotAuthenticated(f"send Authorization: Bearer <token> (from {where})")
    return creds.credentials


def patient(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Patient:
    return services_of(request).patients.authenticate(bearer_token(creds, "POST /patient/token"))


async def purpose(
    request: Request,
    x_carekey_purpose: Annotated[
        str | None,
        Header(
            alias=PURPOSE_HEADER,
            description="Why this personal data is processed: care_record, "
            "biometric_identification... Anything else (law_enforcement, ...) is refused, logged and counted.",
            examples=["care_record"],
        ),
    ] = None,
) -> str:
    if x_carekey_purpose is None or not x_carekey_purpose.strip():
        raise ApiProblem(
            400,
            "Purpose required",
            f"personal-data requests must name their purpose in the {PURPOSE_HEADER} header (e.g. care_record)",
        )
    values = request.headers.getlist(PURPOSE_HEADER)
    if len(values) > 1:  # one purpose per request: several are passed on together, and so refused and counted
        return ", ".join(utf8_header(v) for v in values)
    return utf8_header(x_carekey_purpose)


def utf8_header(value: str) -> str:
    """The header as the client wrote it: ASGI hands header bytes over as latin-1, so a UTF-8 purpose (a
    full-width ``ｐｏｌｉｃｅ``) would arrive as mojibake and be counted as ``other``; bytes that are not UTF-8
    stay as they were."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


Svc = Annotated[Services, Depends(services)]
CurrentActor = Annotated[Actor, Depends(actor)]
CurrentPatient = Annotated[Patient, Depends(patient)]
PurposeHeader = Annotated[str, Depends(purpose)]
