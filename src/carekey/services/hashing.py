"""Bounded concurrency for argon2id (staff passwords, patient PINs): ``HashGate``."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from carekey.errors import RateLimited


class HashGate:
    """Bounded concurrency for password and PIN hashing (argon2id costs ~200 ms of CPU and 64 MiB by design).

    At most ``slots`` hashes run at once (default: the CPU count); they run in the caller's thread, which for the
    API is the thread pool, never the event loop (argon2-cffi releases the GIL). At most ``admitted`` sign-ins
    (default 4 per slot) are in progress at once; one more is refused at once with ``RateLimited`` (HTTP 429 with
    ``Retry-After``) before anything is counted or read, so a burst queues for at most about
    ``admitted / slots`` hash times instead of growing the latency of every sign-in without bound."""

    def __init__(self, slots: int | None = None, admitted: int | None = None) -> None:
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.admitted = max(self.slots, admitted or 4 * self.slots)
        self._hashing = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self._in_progress = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """One sign-in in progress, or RateLimited when ``admitted`` already are (nothing counted)."""
        with self._lock:
            if self._in_progress >= self.admitted:
                raise RateLimited("too many sign-ins at once on this server; try again in a second", retry_after=1)
            self._in_progress += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_progress -= 1

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A hashing slot (waits; the wait is bounded by ``admit``)."""
        with self._hashing:
            yield
