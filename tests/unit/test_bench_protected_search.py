"""``carekey bench search --protected``: the report's ratios and table, and a clear error for an unknown
modality (the benchmark itself needs the shared datasets and minutes: it is run by hand, see
bench/results/protection/search.md)."""

from typer.testing import CliRunner

from carekey.bench import protected_search
from carekey.interfaces.cli.main import app


def test_report_ratios_and_table():
    unprot = protected_search._summary([10.0, 20.0, 30.0], hits=3, n=3)
    prot = protected_search._summary([15.0, 30.0, 60.0], hits=2, n=3)
    report = protected_search._report("iris", 1000, [1, 2, 3], unprot, prot, [True, False], 0, 1, {})
    assert report["ratio_median"] == 1.5 and report["protected"]["top1_hit_rate"] == 2 / 3
    assert report["top1_agreement_with_exhaustive_protected"] == 0.5 and report["top1_lost_by_index"] == 1 / 3
    text = protected_search.table(report)
    assert "1.50" in text and "gallery 1,000" in text and "another program's key found: 0.000" in text


def test_unknown_modality_is_refused(tmp_path):
    out = tmp_path / "s.json"
    result = CliRunner().invoke(app, ["bench", "search", "--modality", "face", "--protected", "--out", str(out)])
    assert result.exit_code != 0 and "fingerprint" in result.output and not out.exists()
