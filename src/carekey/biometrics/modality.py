"""The biometric modalities carekey captures: the one definition, used by the engines, services and interfaces."""

from __future__ import annotations

from enum import StrEnum

from carekey.errors import InvalidInput


class Modality(StrEnum):
    """A kind of biometric capture. A ``StrEnum``: it is stored, logged and sent as its plain value."""

    FINGERPRINT = "fingerprint"
    IRIS = "iris"

    @classmethod
    def parse(cls, raw: str) -> Modality:
        """The modality named ``raw``; InvalidInput (field ``modality``) for any other name."""
        try:
            return cls(raw)
        except ValueError:
            raise InvalidInput(f"modality must be one of {', '.join(MODALITIES)}", field="modality") from None


MODALITIES: tuple[str, ...] = tuple(m.value for m in Modality)
