"""ProtectedMatcher.search over the gallery it owns (``biometrics.feed.FollowedGallery``), fed by an in-memory
template feed: templates are loaded once and followed through the feed (added, deleted, replaced, of another key
version), a search scores only its program's templates (and its position's, or the ids it names), a bad stored
template is skipped (not fatal to the search) and a bad probe fails."""

from __future__ import annotations

import numpy as np
import pytest

from carekey.biometrics.feed import TemplateChange
from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import matcher as matcher_module
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.biometrics.protection.templates import ProtectedTemplate, dump
from carekey.errors import TemplateError

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
RNG = np.random.default_rng(11)


def _iris(codes: np.ndarray, key: bytes = KEY_A, version: int = 1) -> bytes:
    return dump(ProtectedTemplate("iris", version, np.atleast_2d(codes)), key)


def _finger(codes: np.ndarray, key: bytes = KEY_A) -> bytes:
    return dump(ProtectedTemplate("fingerprint", 1, codes), key)


class MemoryFeed:
    """The TemplateFeed port over a dict of stored templates and a list of feed rows (what the SQL one reads)."""

    def __init__(self) -> None:
        self.stored: dict[str, TemplateChange] = {}
        self.rows: list[tuple[int, str, str]] = []

    def put(self, ref: str, modality: str, data: bytes, program: str = "A", position: str = "", version: int = 1):
        self.stored[ref] = TemplateChange(0, ref, modality, program, position, version, data)
        self.rows.append((len(self.rows) + 1, ref, modality))

    def drop(self, ref: str) -> None:
        modality = self.stored.pop(ref).modality
        self.rows.append((len(self.rows) + 1, ref, modality))

    def head(self) -> int:
        return len(self.rows)

    def count(self, key_version: int) -> int:
        return sum(c.key_version == key_version for c in self.stored.values())

    def snapshot(self, key_version: int, after: str, limit: int) -> list[TemplateChange]:
        return sorted(
            (c for r, c in self.stored.items() if r > after and c.key_version == key_version),
            key=lambda c: c.template_id,
        )[:limit]

    def changes(self, since: int, limit: int) -> list[TemplateChange]:
        out = []
        for seq, ref, modality in self.rows[since : since + limit]:
            now = self.stored.get(ref)
            out.append(
                TemplateChange(seq, ref, modality)
                if now is None
                else TemplateChange(seq, ref, now.modality, now.program_id, now.position, now.key_version, now.template)
            )
        return out


def _matcher(monkeypatch=None) -> tuple[ProtectedMatcher, MemoryFeed, list[int]]:
    matcher, feed, calls = ProtectedMatcher(KEY_A, 1), MemoryFeed(), [0]
    matcher.follow(feed)
    if monkeypatch is not None:
        load = matcher.load

        def counted(modality, data):
            calls[0] += 1
            return load(modality, data)

        monkeypatch.setattr(matcher, "load", counted)
        load_many = matcher_module.load_many

        def counted_many(data, *args):  # the start-up path: a page at once
            calls[0] += len(data)
            return load_many(data, *args)

        monkeypatch.setattr(matcher_module, "load_many", counted_many)
    return matcher, feed, calls


def test_iris_gallery_is_loaded_once_and_follows_the_feed(monkeypatch):
    matcher, feed, calls = _matcher(monkeypatch)
    codes = RNG.integers(0, P.IRIS_Q, (30, P.IRIS_HASHES), dtype=np.uint8)
    for i, c in enumerate(codes):
        feed.put(f"T{i:02}", "iris", _iris(c))
    probe = _iris(np.stack([RNG.integers(0, P.IRIS_Q, P.IRIS_HASHES), codes[7]]).astype(np.uint8))
    assert matcher.build() == 30 and calls[0] == 30
    first = matcher.search("A", "iris", probe)
    assert first[0] == ("T07", 1.0) and len(first) == 30
    assert matcher.search("A", "iris", probe) == first and calls[0] == 32  # only the probes
    feed.drop("T07")
    rest = matcher.search("A", "iris", probe)
    assert len(rest) == 29 and all(ref != "T07" for ref, _ in rest)
    feed.put("T08", "iris", _iris(codes[7]))  # renewed: new bytes under the same id are reloaded
    assert matcher.search("A", "iris", probe)[0] == ("T08", 1.0)
    feed.put("T09", "iris", _iris(codes[9], version=2), version=2)  # another key version: out of the gallery
    assert "T09" not in {ref for ref, _ in matcher.search("A", "iris", probe)}


def test_a_search_scores_only_its_program_and_position_or_the_ids_it_names():
    matcher, feed, _ = _matcher()
    codes = RNG.integers(0, P.FP_Q, (6, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    for i, c in enumerate(codes[:3]):
        feed.put(f"L{i}", "fingerprint", _finger(c), position="left_index")
    for i, c in enumerate(codes[3:]):
        feed.put(f"R{i}", "fingerprint", _finger(c), position="right_index")
    feed.put("B0", "fingerprint", _finger(codes[4]), program="B", position="right_index")  # B's copy of R1
    probe = _finger(codes[4])
    everything = matcher.search("A", "fingerprint", probe)
    assert everything[0][0] == "R1" and {ref for ref, _ in everything} == {"L0", "L1", "L2", "R0", "R1", "R2"}
    found = matcher.search("A", "fingerprint", probe, "left_index")
    assert {ref for ref, _ in found} <= {"L0", "L1", "L2"}
    assert found[0][1] == pytest.approx(max(pfp.compare(codes[4], c) for c in codes[:3]))
    assert [ref for ref, _ in matcher.search("A", "fingerprint", probe, among=["L2", "R2"])] in (
        ["L2", "R2"],
        ["R2", "L2"],
    )
    assert [ref for ref, _ in matcher.search("B", "fingerprint", probe)] == ["B0"]
    assert matcher.search("C", "fingerprint", probe) == []
    assert matcher.gallery.count("A") == 6 and matcher.gallery.count("B") == 1


def test_bad_stored_templates_are_skipped_not_fatal_and_bad_probes_fail():
    matcher, feed, _ = _matcher()
    codes = RNG.integers(0, P.IRIS_Q, (3, P.IRIS_HASHES), dtype=np.uint8)
    for i, c in enumerate(codes):
        feed.put(f"T{i}", "iris", _iris(c))
    probe = _iris(codes[2][None, :])
    corrupt = bytearray(_iris(codes[0]))
    corrupt[30] ^= 1
    for i, bad in enumerate((bytes(corrupt), _iris(codes[0], KEY_B), _iris(np.stack([codes[0], codes[1]])))):
        feed.put(f"X{i}", "iris", bad)
        found = matcher.search("A", "iris", probe)  # one bad row does not stop the search
        assert found[0] == ("T2", 1.0) and {ref for ref, _ in found} == {"T0", "T1", "T2"}
        assert f"X{i}" in matcher.gallery.rejected
    with pytest.raises(TemplateError):
        matcher.search("A", "iris", bytes(corrupt))  # a bad probe is the caller's error
    with pytest.raises(TemplateError):
        matcher.search("A", "fingerprint", _finger(codes[:2, : P.FP_HASHES] % P.FP_Q))


def test_a_matcher_without_a_feed_refuses_to_search():
    with pytest.raises(RuntimeError, match="feed"):
        ProtectedMatcher(KEY_A, 1).search("A", "iris", _iris(RNG.integers(0, P.IRIS_Q, P.IRIS_HASHES, np.uint8)))


def test_search_positions_answers_each_position_as_its_own_search_and_stays_in_the_program():
    matcher, feed, _ = _matcher()
    codes = RNG.integers(0, P.FP_Q, (8, P.FP_ROWS, P.FP_HASHES), dtype=np.uint8)
    for i, c in enumerate(codes[:4]):
        feed.put(f"L{i}", "fingerprint", _finger(c), position="left_index")
    for i, c in enumerate(codes[4:]):
        feed.put(f"R{i}", "fingerprint", _finger(c), position="right_index")
    feed.put("BL", "fingerprint", _finger(codes[1]), program="B", position="left_index")  # B's copy of L1
    probes = {"left_index": _finger(codes[1]), "right_index": _finger(codes[6]), "thumb": _finger(codes[0])}
    found = matcher.search_positions("A", "fingerprint", probes)
    assert found["left_index"][0][0] == "L1" and found["right_index"][0][0] == "R2"
    assert found["thumb"] == []  # no template of that position
    for pos, probe in probes.items():
        assert found[pos] == matcher.search("A", "fingerprint", probe, pos)
        assert found[pos] == matcher.search_positions("A", "fingerprint", {pos: probe})[pos]  # one position: inline
    among = ["L1", "R0", "BL"]
    narrowed = matcher.search_positions("A", "fingerprint", probes, among)
    assert {ref for refs in narrowed.values() for ref, _ in refs} == {"L1", "R0"}
    assert all(ref != "BL" for refs in found.values() for ref, _ in refs)
    with pytest.raises(TemplateError):
        matcher.search_positions("A", "fingerprint", {"left_index": b"not a template"})


def test_start_up_reads_pages_sized_by_bytes_and_counts_progress_in_thousands_of_templates():
    from carekey.biometrics import feed as feed_module

    matcher, feed, _ = _matcher()
    codes = RNG.integers(0, P.IRIS_Q, (2500, P.IRIS_HASHES), dtype=np.uint8)
    for i, c in enumerate(codes):
        feed.put(f"T{i:05}", "iris", _iris(c), position="left" if i % 2 else "right")
    limits, steps = [], []
    snapshot = feed.snapshot

    def sized(key_version, after, limit):
        limits.append(limit)
        return snapshot(key_version, after, limit)

    feed.snapshot = sized  # type: ignore[method-assign]

    def progress(items, label, total):
        steps.append(total)
        for item in items:
            steps.append(item)
            yield item

    assert matcher.build(progress) == 2500
    size = len(_iris(codes[0]))
    assert limits[0] == feed_module.PAGE and limits[1] == feed_module.PAGE_BYTES // size > feed_module.PAGE
    assert steps[0] == 3 and len(steps) - 1 == 3  # ceil(2500 / 1000) steps: a page, an empty tick, the last page
    assert [len(s) for s in steps[1:]] == [2000, 0, 500]
    assert matcher.gallery.count("A", "iris") == 2500
