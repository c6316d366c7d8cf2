"""The one exception tree of carekey.

Every error raised on purpose by carekey derives from :class:`CarekeyError`; one naming the input at fault
carries it (``field=``, read back as ``err.field``) for forms and problem documents. Interfaces map the
branches to HTTP statuses (in ``interfaces/api/problems.py``) and CLI exit codes; nothing else
catches them broadly.

::

    CarekeyError
    ├── InvalidInput                  400/422  bad data from the caller; nothing was written
    │   ├── OutOfRange                         a measurement outside its plausible range
    │   └── CaptureRejected                    a biometric capture to redo (unreadable, blank, low quality...)
    ├── NotAuthenticated              401      no, wrong or expired credentials
    ├── Forbidden                     403      the policy engine said no
    │   ├── RefusedPurpose                     a purpose carekey never serves (law enforcement, kinship...)
    │   ├── ConsentMissing                     the person has not granted (or has revoked) this purpose
    │   ├── PresenceRequired                   a powerful action without the person's proof of presence
    │   ├── RateLimited               429      too many identifications or logins
    │   └── BudgetExhausted                    the privacy budget cannot pay for this release
    ├── NotFound                      404      no such person/visit/exam visible to this actor
    ├── Conflict                      409      state does not allow it (closed visit, duplicate enrollment)
    │   └── PossibleDuplicate                  the person may already be enrolled: confirm who, or override
    ├── TemplateError                 422      a stored template is corrupt or of another key version
    ├── UpstreamFailed                502      a remote system (DHIS2) refused, failed or did not answer
    ├── MatcherUnavailable            503      the biometric matcher service is down or refused the channel:
    │                                          nothing of the request was stored; name / card lookup still work
    ├── IntegrityError                500      the transparency log or a key file failed verification
    │   └── KeyCheckFailed                     a key file or the database is missing, replaced or corrupt:
    │                                          carekey refuses to start (CLI exit code 9)
    └── StorageUnavailable            503      the database or the key store cannot write or be reached (full
                                               disk, I/O error, lost connection); nothing was committed, retry
"""

from __future__ import annotations

from collections.abc import Mapping


class Word(str):
    """A fixed term inside a message (a measurement's name, "day"...): the web UI shows it in the reader's
    language. Made with :func:`N_`, which also marks it for extraction into the catalogs (``make i18n``)."""

    __slots__ = ()


def N_(text: str) -> Word:  # noqa: N802 - the gettext convention: marks a string for extraction only
    return Word(text)


class Message(str):
    """A message for people. It *is* the English text (what the log, the API, the CLI and the tests read) and keeps
    the template and values it was made from, so that the web UI can show it in the reader's language
    (``carekey.interfaces.web.i18n.say``) without the domain knowing the web or Babel. Made with :func:`msg`,
    which also marks the template for extraction into the catalogs (``make i18n``). Constant messages need no
    wrapper: the raising call itself is an extraction keyword (``InvalidInput("...")``, see the Makefile)."""

    __slots__ = ("template", "values")
    template: str
    values: Mapping[str, object]

    def __new__(cls, template: str, values: Mapping[str, object]) -> Message:
        self = super().__new__(cls, template % values if values else template)
        self.template = template
        self.values = values
        return self


def msg(template: str, **values: object) -> Message:
    """A message with %-style named values: ``msg("no visit %(visit)s at your sites", visit=visit_id)``."""
    return Message(template, values)


class CarekeyError(Exception):
    """Root of every deliberate carekey error. ``message`` is safe to show to the user."""

    status = 500
    title = "carekey error"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    @property
    def field(self) -> str | None:
        """The input field at fault (``field=`` at the raise), for forms to show the message beside it."""
        value = self.detail.get("field")
        return value if isinstance(value, str) else None


class InvalidInput(CarekeyError):
    status = 422
    title = "Invalid input"


class OutOfRange(InvalidInput):
    title = "Value out of range"


class CaptureRejected(InvalidInput):
    title = "Capture rejected, please recapture"


class NotAuthenticated(CarekeyError):
    status = 401
    title = "Not authenticated"


class Forbidden(CarekeyError):
    status = 403
    title = "Forbidden"


class RefusedPurpose(Forbidden):
    title = "Purpose refused"


class ConsentMissing(Forbidden):
    title = "Consent missing"


class PresenceRequired(Forbidden):
    title = "Proof of presence needed"


class RateLimited(Forbidden):
    status = 429
    title = "Too many requests"


class NotFound(CarekeyError):
    status = 404
    title = "Not found"


class Conflict(CarekeyError):
    status = 409
    title = "Conflict"


class PossibleDuplicate(Conflict):
    """An enrollment matched people already enrolled in the program (``detail["candidates"]``: the same fields and
    limit as an identification, each logged as shown); the registrar confirms one of them or overrides."""

    title = "Possible duplicate"


class BudgetExhausted(Forbidden):
    title = "Privacy budget exhausted"


class TemplateError(CarekeyError):
    status = 422
    title = "Template rejected"


class UpstreamFailed(CarekeyError):
    status = 502
    title = "Remote system failed"


class MatcherUnavailable(CarekeyError):
    """The biometric matcher (``carekey matcher serve``) cannot be reached, failed, or refused the request (a
    receipt it would not accept is a registry bug: the registry never sends one on purpose). Nothing of this
    request was stored; retry later. Lookups by name or card do not need the matcher."""

    status = 503
    title = "Biometric matcher unavailable"
    retry_after = 10


class IntegrityError(CarekeyError):
    status = 500
    title = "Integrity check failed"


class KeyCheckFailed(IntegrityError):
    """A key file (program keys, key store, log key) does not match the key-check value the database holds,
    is missing or unreadable, or the database is missing while keys exist. carekey refuses to start."""

    title = "Refusing to start: keys and database do not match"


class StorageUnavailable(CarekeyError):
    """The storage failed (disk full, I/O error, lost database connection). The transaction was rolled back:
    nothing of this request was committed, and nothing committed before is lost. Retry later."""

    status = 503
    title = "Storage unavailable"
    retry_after = 5
