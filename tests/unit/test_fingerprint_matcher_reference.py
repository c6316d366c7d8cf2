"""The optimized matcher must score exactly like the reference matcher (recorded before the speed work).

Scores were recorded by ``tests/fixtures/fingerprint/record_reference_scores.py`` with the matcher of
the commit named in ``reference_scores.json``: every ordered pair of the committed fixture images and of
seeded synthetic prints (random, and moved copies of them).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from carekey.biometrics.fingerprint import matcher

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def _recorder():
    spec = importlib.util.spec_from_file_location("record_reference_scores", FIXTURES / "record_reference_scores.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> list[list]:
    return json.loads((FIXTURES / "reference_scores.json").read_text())["scores"]


@pytest.fixture(scope="module")
def templates() -> dict[str, tuple]:
    return _recorder().all_templates()


def test_the_reference_covers_genuine_impostor_and_self_pairs(reference):
    scores = [s for _, _, s in reference]
    assert len(reference) == 29 * 29
    assert any(s > 0.9 for s in scores) and any(s < 0.05 for s in scores)


def test_every_pair_scores_as_the_reference_matcher(templates, reference):
    worst = max(abs(matcher.score(*templates[a], *templates[b]) - expected) for a, b, expected in reference)
    assert worst <= 1e-9
