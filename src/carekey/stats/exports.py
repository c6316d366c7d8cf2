"""Exports of a published release: CSV (every figure with its interval) and DHIS2 ``dataValueSets`` JSON.

DHIS2 (https://docs.dhis2.org, "Data values" in the Web API guide) takes aggregate values as
``{"dataValues": [{"dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo",
"value"}]}`` posted to ``/api/dataValueSets``; identifiers are 11-character UIDs. carekey's figures are mapped
to them by a small JSON file the program edits (``carekey stats mapping init`` writes a template):

- ``orgUnits``: ``total`` (the program's org unit) and one entry per district;
- ``dataElements``: per statistic, per outcome (``hypertension`` -> ``yes``/``no``/``unknown``); a value is a
  UID, or an object giving a UID per level (``total``, ``district``, ``district_sex``, ``district_age``) when the
  program keeps the breakdowns in separate data elements;
- ``categoryOptionCombos``: ``total`` (DHIS2's default combo, used for total and district figures), each sex and
  each age band;
- ``attributeOptionCombo`` (default combo) and an optional ``dataSet``.

An empty UID means "not reported": that figure is skipped (and counted). Merged cells are never sent (no
category option combo can name them). Only released figures (noisy, consistent integers) are ever exported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from carekey.errors import InvalidInput
from carekey.stats import records as r
from carekey.stats.published import JsonObject, PublishedRelease
from carekey.stats.releases import Statistic, outcomes
from carekey.stats.tree import AGE_LABELS, Level

#: DHIS2 UID: a letter then 10 letters or digits.
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
#: The UID of DHIS2's default category option combo (the same in every DHIS2 instance).
DEFAULT_COC = "HllvX50cXC0"


# -- CSV ----------------------------------------------------------------------------------------------------


def to_csv(release: PublishedRelease) -> str:
    body = release.body
    outs = [str(o) for o in body.get("outcomes", [])]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "program",
            "period",
            "statistic",
            "level",
            "district",
            "sex",
            "age_band",
            "label",
            "merged_groups",
            "people",
            "people_ci95_low",
            "people_ci95_high",
            *[f"count_{o}" for o in outs],
            "share",
            "share_ci95_low",
            "share_ci95_high",
            "epsilon",
            "release_id",
        ]
    )
    for f in body["figures"]:
        share_ci = f["share_ci95"] or ["", ""]
        w.writerow(
            [
                release.program_id,
                release.period,
                release.statistic,
                f["level"],
                f["district"] or "",
                f["sex"] or "",
                f["age_band"] or "",
                f["label"],
                ";".join(f["merged"]),
                f["count"],
                *f["count_ci95"],
                *[f["counts"][o] for o in outs],
                "" if f["share"] is None else f"{f['share']:.4f}",
                *("" if v == "" else f"{v:.4f}" for v in share_ci),
                f"{release.epsilon:g}",
                release.id,
            ]
        )
    for note in body.get("notes", []):
        w.writerow([f"# {note}"])
    return out.getvalue()


# -- DHIS2 mapping ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dhis2Mapping:
    org_units: dict[str, str]
    data_elements: dict[str, dict[str, str | dict[str, str]]]
    category_option_combos: dict[str, str]
    attribute_option_combo: str = DEFAULT_COC
    data_set: str = ""

    @classmethod
    def parse(cls, text: str) -> Dhis2Mapping:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"the DHIS2 mapping file is not valid JSON: {err}", field="mapping") from None
        if not isinstance(raw, dict):
            raise InvalidInput("the DHIS2 mapping file must be a JSON object", field="mapping")

        def table(name: str) -> dict:
            value = raw.get(name, {})
            if not isinstance(value, dict):
                raise InvalidInput(f"'{name}' in the DHIS2 mapping must be an object", field="mapping")
            return value

        m = cls(
            table("orgUnits"),
            table("dataElements"),
            table("categoryOptionCombos"),
            str(raw.get("attributeOptionCombo") or DEFAULT_COC),
            str(raw.get("dataSet") or ""),
        )
        for where, uid in m._uids():
            if uid and not UID.match(uid):
                raise InvalidInput(
                    f"DHIS2 mapping {where}: {uid!r} is not a DHIS2 UID (a letter and 10 letters or digits)",
                    field="mapping",
                )
        return m

    def _uids(self) -> Iterable[tuple[str, str]]:
        yield from ((f"orgUnits.{k}", str(v)) for k, v in self.org_units.items())
        yield from ((f"categoryOptionCombos.{k}", str(v)) for k, v in self.category_option_combos.items())
        for stat, per in self.data_elements.items():
            if not isinstance(per, dict):
                raise InvalidInput(f"dataElements.{stat} must be an object of outcome -> UID", field="mapping")
            for o, v in per.items():
                if isinstance(v, dict):
                    yield from ((f"dataElements.{stat}.{o}.{lvl}", str(u)) for lvl, u in v.items())
                else:
                    yield f"dataElements.{stat}.{o}", str(v)
        yield "attributeOptionCombo", self.attribute_option_combo
        yield "dataSet", self.data_set

    def data_element(self, statistic: str, outcome: str, level: str) -> str:
        v = self.data_elements.get(statistic, {}).get(outcome, "")
        return str(v.get(level, "") if isinstance(v, dict) else v)


def mapping_template(districts: Sequence[str]) -> dict[str, object]:
    """The file ``carekey stats mapping init`` writes: every key carekey can send, UIDs to fill in."""
    return {
        "_help": "Fill in the UIDs of your DHIS2 instance (11 characters). Leave a UID empty to not report that "
        "figure. A data element may instead be an object with one UID per level: total, district, "
        "district_sex, district_age.",
        "dataSet": "",
        "attributeOptionCombo": DEFAULT_COC,
        "orgUnits": {"total": "", **{d: "" for d in districts}},
        "dataElements": {str(s): {o: "" for o in outcomes(s)} for s in Statistic},
        "categoryOptionCombos": {"total": DEFAULT_COC, **{s: "" for s in r.SEXES}, **{a: "" for a in AGE_LABELS}},
    }


# -- DHIS2 dataValueSets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dhis2Payload:
    body: JsonObject
    skipped: int  # figures (x outcomes) with no UID in the mapping, or merged cells

    @property
    def values(self) -> int:
        return len(self.body["dataValues"])


def data_value_set(releases: Sequence[PublishedRelease], mapping: Dhis2Mapping) -> Dhis2Payload:
    """One ``dataValueSets`` document for releases of one period; a later release of the same statistic
    replaces an earlier one's values (same data element, org unit and combo)."""
    periods = {x.period for x in releases}
    if len(periods) > 1:
        raise InvalidInput("one DHIS2 payload holds one period", field="period")
    values: dict[tuple[str, str, str], dict[str, str]] = {}
    skipped = 0
    for rel in sorted(releases, key=lambda x: (x.created_at, x.id)):
        for f in rel.body["figures"]:
            level = Level(f["level"])
            coc_key = {
                Level.TOTAL: "total",
                Level.DISTRICT: "total",
                Level.DISTRICT_SEX: f["sex"],
                Level.DISTRICT_AGE: f["age_band"],
            }[level]
            org = mapping.org_units.get("total" if level is Level.TOTAL else str(f["district"]), "")
            coc = mapping.category_option_combos.get(str(coc_key), "") if coc_key else ""
            for outcome, count in f["counts"].items():
                de = mapping.data_element(rel.statistic, outcome, str(level))
                if f["merged"] or not (org and coc and de):
                    skipped += 1
                    continue
                values[(de, org, coc)] = {
                    "dataElement": de,
                    "period": rel.period,
                    "orgUnit": org,
                    "categoryOptionCombo": coc,
                    "attributeOptionCombo": mapping.attribute_option_combo,
                    "value": str(int(count)),
                }
    body: JsonObject = {}
    if mapping.data_set:
        body["dataSet"] = mapping.data_set
    if periods:
        body["period"] = next(iter(periods))
    body["dataValues"] = list(values.values())
    return Dhis2Payload(body, skipped)


def import_summary(payload: object) -> tuple[bool, JsonObject]:
    """(accepted, summary) from DHIS2's answer: ``{"response": {ImportSummary}}`` (2.38+) or the ImportSummary
    itself (older). Accepted only on status SUCCESS (or OK) with nothing ignored: a WARNING means some values
    were not stored, so nothing is marked as sent and the push can be repeated (DHIS2 updates in place)."""
    if not isinstance(payload, dict):
        return False, {"status": "ERROR", "description": "DHIS2 answered without an import summary"}
    response = payload.get("response")
    summary: JsonObject = response if isinstance(response, dict) else payload
    status = str(summary.get("status", "")).upper()
    count = summary.get("importCount")
    counts: JsonObject = count if isinstance(count, dict) else {}
    keep: JsonObject = {k: summary[k] for k in ("status", "description", "importCount", "conflicts") if k in summary}
    ignored = int(counts.get("ignored", 0) or 0)
    return status in ("SUCCESS", "OK") and ignored == 0, keep
