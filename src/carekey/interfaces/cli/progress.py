"""A rich progress bar usable as ``track(iterable, label, total)``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import track as rich_track

T = TypeVar("T")


def track(items: Iterable[T], label: str, total: int) -> Iterator[T]:
    yield from rich_track(items, description=label, total=total, transient=True)
