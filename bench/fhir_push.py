"""FHIR cost on the path users get: mapping a visit to a Bundle, validating an export, and closing a visit with and
without the push (decision + log + decrypt + build + POST to a local uvicorn FHIR endpoint + record), SQLite.

Run from the repository root: ``.venv/bin/python bench/fhir_push.py [visits]``; prints a table and writes
bench/results/fhir_push.json. Not a test: no timing is asserted anywhere.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_world  # noqa: E402
from tests.fhir_endpoint import running_endpoint  # noqa: E402
from tests.integration.helpers import CARE, consent, person_input  # noqa: E402
from tests.unit.test_fhir_mapping import export_bundle, visit_bundle  # noqa: E402

from carekey import bootstrap  # noqa: E402
from carekey.config import Settings  # noqa: E402
from carekey.fhir import bundles  # noqa: E402

EXAM = {
    "systolic_bp": 130,
    "diastolic_bp": 85,
    "pulse": 70,
    "height_cm": 170,
    "weight_kg": 70,
    "glucose_mmol_l": 5.0,
    "hemoglobin_g_dl": 13.0,
    "blood_type": "A+",
}


def median_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def closes(services, world, n: int, first_card: int, exam: bool) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        v = services.visits.open(world.registrar, "north")
        view = services.people.enroll(
            world.registrar,
            v.id,
            CARE,
            person_input(card_number=f"NK{first_card + i}"),
            consent(("care_record", "ehr_sharing")),
        )
        if exam:
            services.exams.record(world.clinician, v.id, CARE, view.person.id, EXAM)
        start = time.perf_counter()
        services.visits.close(world.clinician, v.id)
        out.append(time.perf_counter() - start)
    return out


def run(visits: int = 30) -> dict[str, object]:
    text = json.dumps(bundles.to_dict(export_bundle()))
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), argon2_time_cost=1, argon2_memory_kib=64)
    bootstrap.initialize(settings)
    app = bootstrap.build(settings, matcher=object())  # type: ignore[arg-type] - no biometrics used
    world = make_world(app.services)
    without = closes(app.services, world, visits, 5000, exam=True)
    with running_endpoint() as endpoint:
        os.environ["CAREKEY_FHIR_ENDPOINT_NORTH"] = endpoint.base
        try:
            pushed = closes(app.services, world, visits, 7000, exam=True)
        finally:
            del os.environ["CAREKEY_FHIR_ENDPOINT_NORTH"]
        received = len(endpoint.received)
    app.close()
    return {
        "visit_bundle_build_serialize_median_ms": median_ms(lambda: bundles.to_dict(visit_bundle()), 100),
        "visit_bundle_bytes": len(json.dumps(bundles.to_dict(visit_bundle()))),
        "export_bundle_parse_validate_median_ms": median_ms(lambda: bundles.parse(text), 100),
        "visit_close_no_endpoint_median_ms": statistics.median(without) * 1000,
        "visit_close_with_push_median_ms": statistics.median(pushed) * 1000,
        "visits": visits,
        "bundles_received": received,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


if __name__ == "__main__":
    report = run(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    out = Path(__file__).parent / "results" / "fhir_push.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        print(f"{key:<42} {value:,.1f}" if isinstance(value, float) else f"{key:<42} {value}")
    print(f"report written to {out}")
