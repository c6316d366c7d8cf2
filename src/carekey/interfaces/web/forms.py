"""Form parsing: raw fields, numbers with per-field errors, uploads with a size limit."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from carekey.errors import CarekeyError, InvalidInput, msg
from carekey.interfaces.web.i18n import gettext, say
from carekey.services.presence import PresenceProof

FIELD_LIMIT = 2000


async def form_data(request: Request) -> FormData:
    """Dependency: the parsed form (cached by Starlette, so the CSRF check and the route share it)."""
    return await request.form()


@dataclass
class Fields:
    """Accumulates values and per-field error messages for re-rendering a form next to its inputs."""

    form: FormData
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip()[:FIELD_LIMIT] if isinstance(value, str) else ""

    def checked(self, name: str) -> list[str]:
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def number(self, name: str, kind: type = float, required: bool = False) -> float | int | None:
        raw = self.text(name).replace(",", ".")
        if not raw:
            if required:
                self.errors[name] = gettext("required")
            return None
        try:
            return kind(raw)
        except ValueError:
            self.errors[name] = gettext("enter a whole number") if kind is int else gettext("enter a number")
            return None

    def values(self) -> dict[str, str]:
        return {k: v for k, v in self.form.items() if isinstance(v, str) and k != "csrf"}

    def error(
        self, err: CarekeyError, shown: Collection[str], default: str = "form", aliases: Mapping[str, str] | None = None
    ) -> None:
        """Put ``err``'s message beside the field it names (``field=`` where it was raised, renamed by
        ``aliases``) when the form shows that field, else beside ``default``."""
        name = (aliases or {}).get(err.field or "", err.field)
        self.errors[name if name is not None and name in shown else default] = say(err)


async def read_upload(value: object, limit: int) -> bytes:
    if not isinstance(value, UploadFile):
        raise InvalidInput("choose an image file to upload", field="image")
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(
            msg("the image is larger than %(n)s MB; use a smaller file", n=limit // (1024 * 1024)), field="image"
        )
    if not data:
        raise InvalidInput("the uploaded file is empty; capture again", field="image")
    return data


def presence_proof(f: Fields) -> PresenceProof:
    """The proof of presence typed in ``_presence.html`` (empty fields: no proof typed)."""
    return PresenceProof(
        f.text("presence_pin") or None, f.text("approver_username") or None, f.text("approver_password") or None
    )
