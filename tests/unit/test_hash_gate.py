"""``HashGate``: the workers of one server share the machine's cores for argon2 (issue 21: login p99 at 32 clients),
and a sign-in is refused at once (429) rather than queued past the bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carekey import bootstrap
from carekey.config import Settings
from carekey.errors import RateLimited
from carekey.services.hashing import HashGate


@given(cpus=st.integers(1, 64), workers=st.integers(1, 64))
def test_workers_together_never_hash_more_at_once_than_there_are_cores(cpus, workers):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("os.cpu_count", lambda: cpus)
        gate = HashGate.sharing_cpus(workers)
    assert gate.slots >= 1
    assert gate.slots * workers <= max(cpus, workers)  # one slot each at least, never more than the cores
    assert gate.slots == max(1, cpus // workers)


def test_the_served_app_takes_its_share_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setenv("CAREKEY_SERVE_WORKERS", "2")  # what ``carekey serve --workers 2`` sets for its workers
    settings = Settings(data_dir=tmp_path, argon2_time_cost=1, argon2_memory_kib=64)
    assert settings.serve_workers == 2
    bootstrap.initialize(settings)
    app = bootstrap.build(settings)
    try:
        assert app.services.deps.hashing.slots == 2
    finally:
        app.close()


def test_a_saturated_gate_refuses_at_once_with_retry_after():
    gate = HashGate(slots=1, admitted=3, max_wait=0.5)
    gate._mean = 0.3  # one hash takes 300 ms
    with gate.admit(), gate.admit():  # one hashing, one waiting 300 ms: within the bound
        with pytest.raises(RateLimited) as refused, gate.admit():  # a third would wait 600 ms
            pass
        assert refused.value.detail["retry_after"] >= 1
    with gate.admit():  # the gate is free again once they finished
        assert gate._in_progress == 1
    assert gate._in_progress == 0
