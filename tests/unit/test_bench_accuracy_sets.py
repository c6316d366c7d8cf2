"""``carekey bench accuracy`` over several data sets: one table, per set and mean, baseline side by side.

A fake modality stands in for fingerprint / iris (the real ones take minutes per set): an image's
template is its mean gray level, so identities are told apart exactly and errors are known in advance.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from carekey.bench import accuracy_sets, modalities
from carekey.errors import CaptureRejected
from carekey.interfaces.cli.main import app


class Fake:
    name = "carekey"
    worst_score = 0.0

    def extract(self, path: Path) -> float:
        level = float(np.asarray(Image.open(path)).mean())
        if level < 5:
            raise CaptureRejected("blank, please recapture")
        return level

    def compare(self, a: float, b: float) -> float:
        return 1.0 - abs(a - b) / 255.0


class Coarse(Fake):
    """A worse baseline: compares gray levels rounded to 40, so near identities collide."""

    name = "coarse"

    def compare(self, a: float, b: float) -> float:
        return 1.0 - abs(round(a / 40) - round(b / 40)) * 40 / 255.0


def fake_module(name: str) -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")
    module.modality = Fake
    module.baseline = lambda b: Coarse() if b == "coarse" else (_ for _ in ()).throw(ValueError(b))
    return module


@pytest.fixture
def fake_modalities(monkeypatch):
    monkeypatch.setattr(modalities, "load", fake_module)
    monkeypatch.setitem(accuracy_sets.DEFAULT_BASELINE, "fingerprint", "coarse")


def make_set(folder: Path, identities: int, blank: int = 0) -> Path:
    folder.mkdir(parents=True)
    for i in range(identities):
        for s in range(3):
            level = 20 + 12 * i + s  # same identity: within 2 gray levels
            Image.fromarray(np.full((4, 4), level, np.uint8)).save(folder / f"{i:03d}_{s}.png")
    for b in range(blank):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / f"{b:03d}_9.png")  # a sample of identity b that fails
    return folder


@pytest.fixture
def folders(tmp_path) -> Path:
    root = tmp_path / "fingerprint"
    make_set(root / "vendor_a" / "DB1", 4)
    make_set(root / "vendor_b", 5, blank=1)
    (root / "notes").mkdir()
    (root / "notes" / "README.txt").write_text("not a set")
    return root


def test_a_folder_of_sets_expands_to_every_folder_holding_images(folders):
    sets = accuracy_sets.expand([folders])
    assert [(s.label, s.modality) for s in sets] == [("vendor_a/DB1", "fingerprint"), ("vendor_b", "fingerprint")]
    with pytest.raises(ValueError, match="modality"):
        accuracy_sets.expand([make_set(folders.parent / "elsewhere", 2)])
    assert accuracy_sets.expand([folders.parent / "elsewhere"], "iris")[0].modality == "iris"
    with pytest.raises(ValueError, match="no <identity>_<sample> images"):
        accuracy_sets.expand([folders / "notes"])


def test_the_report_has_every_set_the_baseline_and_the_mean(folders, fake_modalities):
    report = accuracy_sets.run(accuracy_sets.expand([folders]))
    a, b = report["sets"]["vendor_a/DB1"], report["sets"]["vendor_b"]
    assert a["eer"] == 0.0 and a["failure_to_enroll"] == 0
    assert b["failure_to_enroll"] == 1 and b["images"] == 16 and b["eer"] > 0.0  # the blank one scores worst
    assert a["baseline"]["system"] == "coarse" and a["baseline"]["eer"] > a["eer"]
    mean = report["means"]["fingerprint"]
    assert mean["eer"] == pytest.approx((a["eer"] + b["eer"]) / 2)
    assert mean["baseline_eer"] == pytest.approx((a["baseline"]["eer"] + b["baseline"]["eer"]) / 2)
    assert mean["failure_to_enroll"] == 1 and mean["images"] == 28
    checks = report["targets"]["fingerprint"]
    assert set(checks) == {"EER <= 0.5 x baseline on every set", "mean EER <= 2 %"}
    md = accuracy_sets.markdown(report)
    assert "| vendor_a/DB1 | fingerprint | 12 | 0 | 0.00 % |" in md and "**mean (2 sets)**" in md


def test_no_baseline_and_unknown_baselines(folders, fake_modalities):
    report = accuracy_sets.run(accuracy_sets.expand([folders]), baselines=[])
    assert all("baseline" not in r for r in report["sets"].values())
    assert report["targets"]["fingerprint"]["EER <= 0.5 x baseline on every set"]["met"] is False
    with pytest.raises(ValueError, match="nbis"):
        accuracy_sets.run(accuracy_sets.expand([folders]), baselines=["nbis"])


def test_cli_several_sets_write_one_json_and_markdown_table(folders, fake_modalities, tmp_path):
    out = tmp_path / "all.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "accuracy",
            "--dataset",
            str(folders / "vendor_a" / "DB1"),
            "--dataset",
            str(folders / "vendor_b"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert list(report["sets"]) == ["vendor_a/DB1", "fingerprint/vendor_b"]
    assert "mean (2 sets)" in result.output and "coarse" in result.output
    assert "| fingerprint/vendor_b |" in out.with_suffix(".md").read_text()


def test_cli_one_set_keeps_the_single_set_report(folders, fake_modalities, tmp_path):
    out = tmp_path / "one.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "accuracy",
            "--modality",
            "fingerprint",
            "--dataset",
            str(folders / "vendor_b"),
            "--baseline",
            "coarse",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert "sets" not in report and report["failure_to_enroll"] == 1
    assert report["baseline"]["system"] == "coarse" and "eer_ratio_to_baseline" in report
    assert {"eer", "fnmr_at_fmr_1pct", "fnmr_at_fmr_0_1pct", "images", "identities"} <= set(report)


def test_sets_run_in_worker_processes_give_the_same_report(folders, fake_modalities):
    sets = accuracy_sets.expand([folders])
    one, two = accuracy_sets.run(sets), accuracy_sets.run(sets, jobs=2)
    assert list(two["sets"]) == list(one["sets"])  # the order asked for, whatever finished first
    for label in one["sets"]:
        assert two["sets"][label]["eer"] == one["sets"][label]["eer"]
        assert two["sets"][label]["baseline"]["eer"] == one["sets"][label]["baseline"]["eer"]


def test_each_finished_set_is_reported_before_the_run_ends(folders, fake_modalities):
    seen: list[dict] = []
    report = accuracy_sets.run(accuracy_sets.expand([folders]), on_set=seen.append)
    assert len(seen) == 1  # after the first of two sets; the last one is the full report
    assert list(seen[0]["sets"]) == ["vendor_a/DB1"] and seen[0]["unfinished"] == ["vendor_b"]
    assert seen[0]["sets"]["vendor_a/DB1"]["eer"] == report["sets"]["vendor_a/DB1"]["eer"]
    assert "unfinished" not in report
    assert "Not finished yet (partial report): vendor_b." in accuracy_sets.markdown(seen[0])
