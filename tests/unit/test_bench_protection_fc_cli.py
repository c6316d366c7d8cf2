"""``carekey bench protection --scheme fuzzy-commitment`` through the CLI runner on the five fixture eyes
(a smoke test of the wiring and of the decoder cross-check, not an accuracy or timing assertion)."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from carekey.interfaces.cli.main import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iris"


def test_fuzzy_commitment_bench_writes_a_report_side_by_side(tmp_path):
    data = tmp_path / "eyes"
    data.mkdir()
    for f in FIXTURES.glob("*.png"):
        shutil.copy(f, data / f.name)
    out = tmp_path / "fc.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "protection",
            "--modality",
            "iris",
            "--scheme",
            "fuzzy-commitment",
            "--dataset",
            str(data),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["scheme"] == "fuzzy-commitment" and report["images"] == 5 and report["genuine_pairs"] == 3
    for key in ("eer_unprotected", "eer_protected", "genuine_decode_failure", "impostor_decode_success"):
        assert 0.0 <= report[key] <= 1.0
    assert not report["d_sys"] > 1.0  # NaN when 3 mated scores cannot carry a density estimate
    check = report["decoder_validation"]
    assert check["pairs_checked"] >= 3 and check["agreeing"] == check["pairs_checked"]
    assert {r["hadamard_block_bits"] for r in report["sweep"]} == {32, 64, 128}
    assert "operating point" in result.output


def test_unknown_scheme_or_modality_is_refused(tmp_path):
    for args in (
        ["--modality", "iris", "--scheme", "bloom"],
        ["--modality", "fingerprint", "--scheme", "fuzzy-commitment"],
    ):
        result = CliRunner().invoke(
            app, ["bench", "protection", *args, "--dataset", str(FIXTURES), "--out", str(tmp_path / "x.json")]
        )
        assert result.exit_code != 0 and not (tmp_path / "x.json").exists()
