"""The site queue of open visits (what the clinician picks from): open, at the actor's sites, recent, no people."""

from datetime import timedelta

import pytest

from carekey.errors import Forbidden
from tests.integration.helpers import enroll


def test_open_visits_at_own_sites_only_and_not_closed_or_stale(app, world):
    s = app.services
    s.deps.clock.now = s.deps.clock()
    bound, _ = enroll(s, world.registrar)
    s.deps.clock.now += timedelta(seconds=1)  # the queue is oldest first
    fresh = s.visits.open(world.registrar, "north")
    closed = s.visits.open(world.registrar, "north")
    s.visits.close(world.registrar, closed.id)
    south = s.visits.open(world.registrar_south, "south")
    queue = s.visits.open_visits(world.clinician)
    assert [v.id for v in queue] == [bound.id, fresh.id]
    assert queue[0].person_id is not None and queue[1].person_id is None
    assert [v.id for v in s.visits.open_visits(world.clinician_south)] == [south.id]
    s.deps.clock.now = s.deps.clock() + timedelta(hours=25)
    assert s.visits.open_visits(world.clinician) == []
    for actor in (world.manager, world.auditor, world.admin):
        with pytest.raises(Forbidden):
            s.visits.open_visits(actor)
