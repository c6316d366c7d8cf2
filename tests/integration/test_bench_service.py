"""``carekey bench service`` end to end on a tiny gallery: the report carries every key issue 13 names, with values
that follow from the run (the gallery size asked for, the index bytes of the layout, the mate found)."""

from __future__ import annotations

import pytest

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection._search_kernels import planes_of
from carekey.interfaces.cli import bench_service

pytestmark = pytest.mark.slow

KEYS = {
    "modality",
    "gallery",
    "queries",
    "search_ms_median",
    "search_ms_p95",
    "index_ms_median",
    "overhead_ratio",
    "service_overhead_ratio",
    "top1_hit_rate",
    "startup_s",
    "index_bytes_per_template",
    "rss_mb",
    "write_ms_p95",
    "write_ms_p95_with_searches",
    "write_ms_p95_without_searches",
}


def test_bench_service_reports_the_issue_13_keys(tmp_path):
    report = bench_service.run(
        "iris", gallery=12, queries=1, progress=lambda items, label, total: items, data_dir=tmp_path
    )
    assert report.keys() >= KEYS
    assert report["modality"] == "iris" and report["gallery"] == 12 and report["queries"] == 1
    bits = planes_of(P.IRIS_Q)
    assert report["index_bytes_per_template"] == bits * (P.IRIS_HASHES + P.IRIS_INDEX_HASHES) // 8  # 960 B an eye
    assert report["top1_hit_rate"] == 1.0
    # issue 13's ratio: the service's search over the index alone (extraction included, so above 1)
    assert report["overhead_ratio"] == pytest.approx(report["search_ms_median"] / report["index_ms_median"], rel=0.02)
    assert report["overhead_ratio"] > 1 and report["overhead_ratio"] >= report["service_overhead_ratio"]
    # one query may end before the writer process (spawned) writes: then no write ran during searches (nan)
    assert str(report["write_ms_p95"]) == str(report["write_ms_p95_with_searches"])
    assert report["write_ms_p95_without_searches"] > 0
    assert report["startup_s"] >= 0 and report["rss_mb"] > 0
    assert "bench service" not in bench_service.table(report) and "search ms median" in bench_service.table(report)
