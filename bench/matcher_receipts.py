"""What the matcher boundary costs (issue 15): log receipt verification alone, admission (verification + the spent
receipts ledger), and an identification through the service with the matcher embedded vs as its own process
(uvicorn on a Unix socket, HMAC-signed request, receipt checked), on fixture fingerprints, SQLite.

Run from the repository root: ``.venv/bin/python bench/matcher_receipts.py [receipts] [identifications]``; prints a
table and writes bench/results/matcher/receipts.json. Not a test: no timing is asserted anywhere.
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
from tests.integration.helpers import enroll  # noqa: E402
from tests.integration.test_matcher_service import Served, receipt  # noqa: E402

from carekey import bootstrap  # noqa: E402
from carekey.audit.receipt import Expectation, Receipt, verify_receipt  # noqa: E402
from carekey.audit.sth import LogSigner, key_id  # noqa: E402
from carekey.bootstrap import matcher as matcher_setup  # noqa: E402
from carekey.config import Settings  # noqa: E402
from carekey.services.matcher_node import MatcherNode  # noqa: E402
from carekey.storage.receipts import ReceiptLedger  # noqa: E402

FINGERS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fingerprint"
BIO = "biometric_identification"


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


def receipt_costs(n: int, folder: Path) -> dict[str, dict[str, float]]:
    signer = LogSigner.generate()
    trusted = {key_id(signer.public_key): signer.public_key}
    made = [Receipt.from_dict(receipt(signer)) for _ in range(n)]
    expected = Expectation("identify_biometric", "demo", "fingerprint")
    verify = []
    for r in made:
        t0 = time.perf_counter()
        verify_receipt(r, trusted, expected, 30_000)
        verify.append(time.perf_counter() - t0)
    node = MatcherNode(object(), trusted, ReceiptLedger(folder / "ledger.db"), 30_000)  # type: ignore[arg-type]
    admit = []
    for _ in range(n):
        doc = receipt(signer)
        t0 = time.perf_counter()
        node.admit(doc, "identify", "demo", "fingerprint")
        admit.append(time.perf_counter() - t0)
    node.ledger.close()
    return {"verify_receipt": stats_ms(verify), "admit_with_ledger": stats_ms(admit)}


def identifications(app, world, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    s = app.services
    probe = (FINGERS / "db1_101_2.tif").read_bytes()
    out = []
    for _ in range(n):
        visit = s.visits.open(world.registrar, "north")
        t0 = time.perf_counter()
        hits = s.biometrics.identify(world.registrar, visit.id, BIO, "fingerprint", probe, person_agreed=True)
        out.append(time.perf_counter() - t0)
        assert hits, "the mate was not found"
    return out


def seeded(settings: Settings, remote_dir: Path | None):  # type: ignore[no-untyped-def]
    bootstrap.initialize(settings)
    served = None
    if remote_dir is not None:
        sock = remote_dir.parent / "m.sock"
        matcher_setup.initialize_matcher(settings, remote_dir, f"unix:{sock}")
        served = Served(remote_dir, sock)
    app = bootstrap.build(settings.model_copy(update={"identifications_per_hour": 100_000}))
    world = make_world(app.services)
    for i, name in enumerate(("db1_101_1", "db1_102_1", "db1_103_1")):
        visit, view = enroll(app.services, world.registrar, card_number=f"NK{3000 + i}", birth_year=1960 + i)
        image = (FINGERS / f"{name}.tif").read_bytes()
        bio = app.services.biometrics
        bio.enroll(world.registrar, visit.id, BIO, view.person.id, "fingerprint", "right_index", image)
    return app, world, served


def main() -> None:
    n_receipts = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n_identify = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        costs = receipt_costs(n_receipts, root)
        modes = {}
        for mode in ("embedded", "remote"):
            data = root / mode
            settings = Settings(
                data_dir=data / "data", argon2_time_cost=1, argon2_memory_kib=64, identifications_per_hour=100_000
            )
            app, world, served = seeded(settings, data / "matcher" if mode == "remote" else None)
            identifications(app, world, 2)  # warm-up (JIT, gallery)
            modes[mode] = stats_ms(identifications(app, world, n_identify))
            if served is not None:
                modes[mode]["matcher_verify_ms_median"] = served.health()["receipts"]["verify_ms_median"]
                served.stop()
            app.close()
    report = {
        "receipts": n_receipts,
        "identifications": n_identify,
        **costs,
        "identify_through_service": modes,
        "remote_overhead_ms_median": round(modes["remote"]["median_ms"] - modes["embedded"]["median_ms"], 3),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        },
    }
    print(f"{'what':<40}{'median ms':>12}{'p95 ms':>12}")
    for what, row in (
        ("verify_receipt (Ed25519 + 2 SHA-256)", costs["verify_receipt"]),
        ("admit (verify + spent-receipt ledger)", costs["admit_with_ledger"]),
        ("identify, matcher embedded", modes["embedded"]),
        ("identify, matcher service (UDS + HMAC)", modes["remote"]),
    ):
        print(f"{what:<40}{row['median_ms']:>12.3f}{row['p95_ms']:>12.3f}")
    out = Path(__file__).resolve().parent / "results" / "matcher" / "receipts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
