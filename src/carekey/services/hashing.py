"""Bounded concurrency for argon2id (staff passwords, patient PINs): ``HashGate``."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from carekey.errors import RateLimited


class HashGate:
    """Bounded concurrency for password and PIN hashing (argon2id costs ~200 ms of CPU and 64 MiB by design).

    At most ``slots`` hashes run at once (default: the CPU count); they run in the caller's thread, which for the
    API is the thread pool, never the event loop (argon2-cffi releases the GIL). A sign-in is admitted (``admit``)
    only while its expected wait for a slot stays within ``max_wait`` seconds (from the running mean of recent hash
    times and the sign-ins already in progress) and fewer than ``admitted`` (default 4 per slot) are in progress;
    otherwise it is refused at once with ``RateLimited`` (HTTP 429 with ``Retry-After``), before anything is counted
    or read. So a burst of sign-ins keeps its latency near ``max_wait`` plus one hash, on a fast or a slow (or
    busy) machine alike, instead of queueing without bound (issue 21: p99 of 31 s at 32 clients before)."""

    def __init__(self, slots: int | None = None, admitted: int | None = None, max_wait: float = 1.0) -> None:
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.admitted = max(self.slots, admitted or 4 * self.slots)
        self.max_wait = max_wait
        self._hashing = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self._in_progress = 0
        self._mean = 0.0  # running mean of one hash's duration, seconds (0: none measured yet)

    @classmethod
    def sharing_cpus(cls, processes: int) -> HashGate:
        """The gate of one of ``processes`` server processes on this machine: CPUs / processes slots (at least
        one), so that all the workers of ``carekey serve --workers N`` together hash no more at once than there
        are cores (an argon2id hash already runs its lanes on several threads; more at once only queues)."""
        return cls(slots=max(1, (os.cpu_count() or 1) // max(1, processes)))

    def expected_wait(self, in_progress: int) -> float:
        """Seconds a new sign-in would wait for a slot with ``in_progress`` ahead of it."""
        return (in_progress // self.slots) * self._mean

    @contextmanager
    def admit(self) -> Iterator[None]:
        """One sign-in in progress, or RateLimited when the server is saturated (nothing counted)."""
        with self._lock:
            wait = self.expected_wait(self._in_progress)
            if self._in_progress >= self.admitted or (self._in_progress >= self.slots and wait > self.max_wait):
                raise RateLimited(
                    "too many sign-ins at once on this server; try again in a moment",
                    retry_after=max(1, math.ceil(wait)),
                )
            self._in_progress += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_progress -= 1

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A hashing slot (waits; the wait is bounded by ``admit``); times the hash for ``expected_wait``."""
        with self._hashing:
            start = time.perf_counter()
            try:
                yield
            finally:
                took = time.perf_counter() - start
                with self._lock:
                    self._mean = took if self._mean == 0 else 0.8 * self._mean + 0.2 * took
