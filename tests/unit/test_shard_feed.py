"""A shard's view of the template feed (``ray_shards.ShardFeed``, no Ray needed): every template is stored in
exactly one shard, and another shard's rows still advance the feed position (a page of foreign rows must not
stall the catch-up)."""

from __future__ import annotations

from carekey.biometrics.feed import FollowedGallery, TemplateChange
from carekey.biometrics.protection.ray_shards import ShardFeed, shard_of


class ListFeed:
    def __init__(self, rows: list[TemplateChange]) -> None:
        self.rows = rows

    def head(self) -> int:
        return max((r.seq for r in self.rows), default=0)

    def count(self, key_version: int) -> int:
        return len(self.rows)

    def snapshot(self, key_version: int, after: str, limit: int) -> list[TemplateChange]:
        stored = {r.template_id: r for r in self.rows}  # the latest state of each template
        live = sorted((r for r in stored.values() if r.template is not None), key=lambda r: r.template_id)
        return [r for r in live if r.template_id > after][:limit]

    def changes(self, since: int, limit: int) -> list[TemplateChange]:
        return [r for r in self.rows if r.seq > since][:limit]


class DictIndex(dict):
    nbytes = 0

    def add_many(self, keys, codes):  # type: ignore[no-untyped-def]
        self.update(zip(keys, codes, strict=True))

    def remove(self, key):  # type: ignore[no-untyped-def]
        self.pop(key, None)

    def search(self, probe, top, among):  # type: ignore[no-untyped-def]
        return [(k, 1.0) for k in self]


def rows(first: int, n: int) -> list[TemplateChange]:
    return [TemplateChange(i + 1, f"T-{i:05d}", "iris", "demo", "left_eye", 1, b"x") for i in range(first, first + n)]


def test_every_template_is_in_exactly_one_shard_and_foreign_pages_do_not_stall():
    feed, shards = ListFeed(rows(0, 5000)), 3  # more than one page (2000), many foreign rows per page
    galleries = []
    for shard in range(shards):
        gallery = FollowedGallery(1, lambda modality, data: data, lambda modality: DictIndex())
        gallery.follow(ShardFeed(feed, shard, shards))
        gallery.build()
        galleries.append(gallery)
    feed.rows += rows(5000, 5000)  # enrolled after the snapshot: caught up from the changes, page by page
    held = [{ref for ref, _ in g.search("demo", "iris", b"p")} for g in galleries]
    assert sum(len(h) for h in held) == 10_000
    assert set.union(*held) == {f"T-{i:05d}" for i in range(10_000)}
    for shard, mine in enumerate(held):
        assert all(shard_of(ref, shards) == shard for ref in mine)
    # a deletion later in the feed reaches the owning shard
    victim = "T-00042"
    feed.rows.append(TemplateChange(10_001, victim, "iris"))
    owner = shard_of(victim, shards)
    assert victim not in {ref for ref, _ in galleries[owner].search("demo", "iris", b"p")}
    assert len(galleries[owner]) == len(held[owner]) - 1


def test_a_shard_with_pages_of_foreign_rows_only_still_catches_up():
    feed, shards = ListFeed(rows(0, 10)), 5000  # pages of 2000 changes hold none of this shard's templates
    gallery = FollowedGallery(1, lambda modality, data: data, lambda modality: DictIndex())
    target = shard_of("T-09999", shards)
    gallery.follow(ShardFeed(feed, target, shards))
    gallery.build()
    feed.rows += rows(10, 9990)
    held = {ref for ref, _ in gallery.search("demo", "iris", b"p")}
    assert "T-09999" in held
    assert held == {f"T-{i:05d}" for i in range(10_000) if shard_of(f"T-{i:05d}", shards) == target}
