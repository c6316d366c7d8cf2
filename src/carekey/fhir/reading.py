"""Values back out of a Bundle: what a receiving system would read (used by the round-trip tests and by anyone
checking an export): each Observation as (LOINC code, value, UCUM unit), the blood-pressure panel as its two
components, the blood group as its text."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from carekey.fhir import systems as S


def _loinc(code: Any) -> str:
    return next(c.code for c in code.coding if c.system == S.LOINC)


def measurements(bundle: Bundle) -> list[dict[str, object]]:
    """Rows ``{"loinc", "value", "unit", "at"}`` in Bundle order; panels contribute their components."""
    rows: list[dict[str, object]] = []
    for entry in bundle.entry or []:
        obs = entry.resource
        if not isinstance(obs, Observation):
            continue
        at = obs.effectiveDateTime
        parts = [(c.code, c.valueQuantity) for c in obs.component or []] or [(obs.code, obs.valueQuantity)]
        for code, qty in parts:
            if qty is not None:
                assert qty.system == S.UCUM and qty.code == qty.unit, "units are UCUM codes"
                assert qty.value is not None, "a quantity carries its value"
                rows.append({"loinc": _loinc(code), "value": float(qty.value), "unit": qty.code, "at": at})
        if obs.valueCodeableConcept is not None:
            rows.append({"loinc": _loinc(obs.code), "value": obs.valueCodeableConcept.text, "unit": None, "at": at})
    return rows


def resource_types(bundle: Bundle) -> list[str]:
    types = []
    for e in bundle.entry or []:
        assert e.resource is not None, "every entry carries a resource"
        types.append(e.resource.get_resource_type())
    return types
