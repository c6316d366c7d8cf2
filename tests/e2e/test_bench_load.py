"""``carekey bench load`` smoke test: a real server subprocess on a fresh SQLite folder, two clients, a fraction of a
second per operation; the report has the documented shape and no 5xx. (Figures are the benchmark's business, never
asserted here.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carekey.bench.load import OPERATIONS
from carekey.interfaces.cli.main import app

pytestmark = pytest.mark.slow


def test_bench_load_runs_every_operation_and_writes_the_report(tmp_path):
    out = tmp_path / "load.json"
    result = CliRunner().invoke(
        app, ["bench", "load", "--clients", "2", "--seconds", "0.5", "--people", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["backend"] == "sqlite" and report["clients"] == 2
    assert set(report["operations"]) == set(OPERATIONS)
    for op, figures in report["operations"].items():
        assert {"rps", "p50_ms", "p95_ms", "p99_ms", "errors_5xx"} <= set(figures), op
        assert figures["errors_5xx"] == 0 and figures["no_answer"] == 0, (op, figures)
        assert figures["requests"] > 0 and figures["other_4xx"] == 0, (op, figures)
    assert "record_exam" in result.output and "p99 ms" in result.output


def test_bench_load_refuses_an_unknown_operation(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "load", "--clients", "1", "--operation", "export_everyone", "--out", str(tmp_path / "x.json")]
    )
    assert result.exit_code != 0 and "unknown operation" in result.output
    assert not (tmp_path / "x.json").exists()
