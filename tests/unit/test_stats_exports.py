"""CSV and DHIS2 dataValueSets of a fixture release, against hand-written expectations; the mapping file."""

import json
from datetime import UTC, datetime

import pytest

from carekey.errors import InvalidInput
from carekey.stats.exports import DEFAULT_COC, Dhis2Mapping, data_value_set, import_summary, mapping_template, to_csv
from carekey.stats.published import PublishedRelease


def fig(level, label, district=None, sex=None, age=None, yes=0, no=0, unknown=0, merged=()):
    n = yes + no + unknown
    return {
        "level": level,
        "label": label,
        "district": district,
        "sex": sex,
        "age_band": age,
        "counts": {"yes": yes, "no": no, "unknown": unknown},
        "count": n,
        "count_ci95": [max(n - 5, 0), n + 5],
        "share": yes / (yes + no) if yes + no else None,
        "share_ci95": [0.25, 0.75] if yes + no else None,
        "merged": list(merged),
    }


RELEASE = PublishedRelease(
    "R-1",
    "demo",
    "2026Q4",
    "hypertension",
    1.0,
    datetime(2026, 11, 20, tzinfo=UTC),
    "U-1",
    {
        "statistic": "hypertension",
        "outcomes": ["yes", "no", "unknown"],
        "notes": ["Approximate 95% intervals."],
        "figures": [
            fig("total", "all districts", yes=30, no=70),
            fig("district", "Northern", "Northern", yes=20, no=40),
            fig("district", "Southern", "Southern", yes=10, no=30),
            fig("district_sex", "Northern female", "Northern", "female", yes=12, no=18),
            fig("district_sex", "Northern male", "Northern", "male", yes=8, no=22),
            fig("district_age", "Northern: merged (2 groups)", "Northern", yes=3, no=9, merged=("0-17", "75+")),
        ],
    },
)

MAPPING = {
    "attributeOptionCombo": DEFAULT_COC,
    "dataSet": "DsScreen001",
    "orgUnits": {"total": "OuProgram01", "Northern": "OuNorth0001", "Southern": ""},
    "dataElements": {"hypertension": {"yes": "DeHtnYes001", "no": "DeHtnNo0001", "unknown": ""}},
    "categoryOptionCombos": {"total": DEFAULT_COC, "female": "CocFemale01", "male": "CocMale0001"},
}

EXPECTED = {  # written by hand from the fixture: Southern has no org unit, unknown no data element, merged never sent
    "dataSet": "DsScreen001",
    "period": "2026Q4",
    "dataValues": [
        {
            "dataElement": "DeHtnYes001",
            "period": "2026Q4",
            "orgUnit": "OuProgram01",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "30",
        },
        {
            "dataElement": "DeHtnNo0001",
            "period": "2026Q4",
            "orgUnit": "OuProgram01",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "70",
        },
        {
            "dataElement": "DeHtnYes001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "20",
        },
        {
            "dataElement": "DeHtnNo0001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "HllvX50cXC0",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "40",
        },
        {
            "dataElement": "DeHtnYes001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "CocFemale01",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "12",
        },
        {
            "dataElement": "DeHtnNo0001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "CocFemale01",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "18",
        },
        {
            "dataElement": "DeHtnYes001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "CocMale0001",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "8",
        },
        {
            "dataElement": "DeHtnNo0001",
            "period": "2026Q4",
            "orgUnit": "OuNorth0001",
            "categoryOptionCombo": "CocMale0001",
            "attributeOptionCombo": "HllvX50cXC0",
            "value": "22",
        },
    ],
}


def test_dhis2_payload_matches_the_hand_written_document():
    payload = data_value_set([RELEASE], Dhis2Mapping.parse(json.dumps(MAPPING)))
    assert payload.body == EXPECTED
    assert payload.skipped == 18 - 8  # 6 figures x 3 outcomes, 8 sent


def test_a_later_release_replaces_the_values_of_an_earlier_one():
    later = PublishedRelease(
        "R-2",
        "demo",
        "2026Q4",
        "hypertension",
        0.5,
        datetime(2026, 12, 1, tzinfo=UTC),
        "U-1",
        {"figures": [fig("total", "all districts", yes=31, no=69)]},
    )
    body = data_value_set([later, RELEASE], Dhis2Mapping.parse(json.dumps(MAPPING))).body
    totals = [v["value"] for v in body["dataValues"] if v["orgUnit"] == "OuProgram01"]
    assert totals == ["31", "69"] and len(body["dataValues"]) == 8
    other = PublishedRelease(
        "R-3", "demo", "2027Q1", "hypertension", 0.5, datetime(2027, 1, 2, tzinfo=UTC), "U-1", {"figures": []}
    )
    with pytest.raises(InvalidInput):
        data_value_set([RELEASE, other], Dhis2Mapping.parse(json.dumps(MAPPING)))


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{",
        json.dumps({"orgUnits": {"total": "not a uid!"}}),
        json.dumps({"dataElements": {"count": "x"}}),
        json.dumps({"orgUnits": []}),
    ],
)
def test_bad_mapping_files_are_refused(text):
    with pytest.raises(InvalidInput):
        Dhis2Mapping.parse(text)


def test_mapping_template_names_every_key_and_parses():
    t = mapping_template(["Northern", "Southern"])
    assert set(t["orgUnits"]) == {"total", "Northern", "Southern"}
    assert set(t["dataElements"]["hypertension"]) == {"yes", "no", "unknown"} and "75+" in t["categoryOptionCombos"]
    m = Dhis2Mapping.parse(json.dumps(t))  # empty UIDs are allowed: nothing is sent for them
    assert data_value_set([RELEASE], m).body["dataValues"] == []


def test_csv_has_every_figure_with_its_interval():
    lines = to_csv(RELEASE).splitlines()
    assert lines[0].startswith("program,period,statistic,level,district,sex,age_band,label,merged_groups,people,")
    assert lines[1].split(",")[:12] == [
        "demo",
        "2026Q4",
        "hypertension",
        "total",
        "",
        "",
        "",
        "all districts",
        "",
        "100",
        "95",
        "105",
    ]
    assert "0-17;75+" in lines[6] and lines[-1] == "# Approximate 95% intervals."
    assert len(lines) == 1 + 6 + 1


def test_import_summary_accepts_only_a_full_success():
    ok = {"status": "OK", "response": {"status": "SUCCESS", "importCount": {"imported": 3, "ignored": 0}}}
    assert import_summary(ok)[0] is True
    assert import_summary({"status": "SUCCESS", "importCount": {"imported": 2, "ignored": 0}})[0] is True  # < 2.38
    warn = {"status": "WARNING", "response": {"status": "WARNING", "importCount": {"imported": 2, "ignored": 1}}}
    assert import_summary(warn)[0] is False
    assert import_summary(None)[0] is False and import_summary({"status": "ERROR"})[0] is False
