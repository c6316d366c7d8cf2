"""The ``slow`` marker of the unit tests, applied in one place: the tests that run the real image pipelines
(fingerprint enhancement and extraction, iris segmentation, protected 1:N indexes, the fuzzy-commitment
prototype), each several seconds. ``make unit`` runs the others (``-m "not slow"``); ``make test`` runs all."""

from __future__ import annotations

import pytest

SLOW_MODULES = {
    "test_fingerprint_api.py",
    "test_fingerprint_enhancement.py",
    "test_fingerprint_resolution.py",
    "test_protected_index.py",
    "test_protection.py",
    "test_bench_protection_fc_cli.py",
    "test_fuzzy_commitment.py",
    "test_segmentation_scale.py",
    "test_black_box.py",
}
SLOW_TESTS = {
    "test_third_party_records_read_and_round_trip_byte_exact",
    "test_our_minutiae_use_the_standard_conventions_of_a_third_party_extractor",
    "test_persistent_form_round_trips_to_an_identical_matching_template",
    "test_any_single_byte_change_is_refused",
    "test_a_rigidly_moved_print_is_aligned_pair_by_pair",
    "test_cli_several_sets_write_one_json_and_markdown_table",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS:  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.slow)
