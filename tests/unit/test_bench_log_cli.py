"""``carekey bench log`` through the CLI runner on a small log (a smoke test, not a timing assertion)."""

import json

from typer.testing import CliRunner

from carekey.interfaces.cli.main import app


def test_bench_log_writes_a_report(tmp_path):
    out = tmp_path / "log.json"
    result = CliRunner().invoke(app, ["bench", "log", "--entries", "300", "--probes", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["entries"] == 300 and report["probes"] == 20
    assert report["inclusion_proof_hashes"] == 9  # ceil(log2(300)) for leaf 0
    for key in (
        "appends_per_s",
        "inclusion_proof_gen_median_us",
        "inclusion_proof_verify_median_us",
        "consistency_proof_gen_median_us",
        "consistency_proof_verify_median_us",
    ):
        assert report[key] > 0
    assert "appends_per_s" in result.output


def test_bench_log_refuses_bad_sizes(tmp_path):
    result = CliRunner().invoke(app, ["bench", "log", "--entries", "0", "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0 and not (tmp_path / "x.json").exists()
