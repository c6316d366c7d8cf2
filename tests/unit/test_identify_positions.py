"""``services.matcher.identify_positions``: the probes of one identification are extracted in parallel threads and
the positions searched (at once when the engine can), with the same answer and the same error as one by one."""

from __future__ import annotations

import threading

import pytest

from carekey.errors import CaptureRejected
from carekey.services.matcher import identify_positions


class Engine:
    def __init__(self) -> None:
        self.extracted_in: set[str] = set()
        self.calls: list[tuple] = []

    def probe(self, modality: str, image: bytes) -> bytes:
        self.extracted_in.add(threading.current_thread().name)
        if image == b"blurred":
            raise CaptureRejected("recapture", cause=image.decode())
        return b"P" + image

    def search(self, program_id, modality, probe, position=None, among=None):
        self.calls.append(("search", position))
        return [(f"{program_id}/{position}/{probe.decode()}/{k}", 1.0 - k / 10) for k in range(4)]


class PositionsEngine(Engine):
    def search_positions(self, program_id, modality, probes, among=None):
        self.calls.append(("search_positions", tuple(probes)))
        return {pos: self.search(program_id, modality, probe, pos, among) for pos, probe in probes.items()}


@pytest.mark.parametrize("engine_type", [Engine, PositionsEngine])
def test_two_positions_give_what_one_search_per_position_gives(engine_type):
    engine = engine_type()
    images = {"left_index": b"L", "right_index": b"R"}
    found = identify_positions(engine, "prog", "fingerprint", images, None, 2)
    assert found == {
        "left_index": [("prog/left_index/PL/0", 1.0), ("prog/left_index/PL/1", 0.9)],
        "right_index": [("prog/right_index/PR/0", 1.0), ("prog/right_index/PR/1", 0.9)],
    }
    assert all(name.startswith("probe-extraction") for name in engine.extracted_in)  # not in the caller's thread
    assert (engine.calls[0][0] == "search_positions") == (engine_type is PositionsEngine)


def test_one_unnamed_image_is_extracted_in_the_callers_thread_and_searches_every_position():
    engine = PositionsEngine()
    found = identify_positions(engine, "prog", "iris", {"": b"E"}, None, 1)
    assert found == {"": [("prog/None/PE/0", 1.0)]}
    assert engine.extracted_in == {threading.current_thread().name} and engine.calls == [("search", None)]


def test_the_first_failing_capture_raises_and_nothing_is_searched():
    engine = PositionsEngine()
    with pytest.raises(CaptureRejected) as raised:
        identify_positions(engine, "prog", "fingerprint", {"left_index": b"blurred", "right_index": b"R"}, None, 5)
    assert raised.value.detail["cause"] == "blurred" and engine.calls == []
