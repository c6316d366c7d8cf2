"""``carekey serve`` shortens the GIL switch interval in the serving process (issue 21: the thread holding SQLite's
write lock got the GIL back up to 5 ms late at every statement)."""

import sys

import uvicorn

from carekey.interfaces.api import app as app_module
from carekey.interfaces.cli import serving


def test_serve_runs_uvicorn_with_the_short_switch_interval(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(app_module, "create_app", lambda settings: object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(interval=sys.getswitchinterval()))
    before = sys.getswitchinterval()
    try:
        serving.run(tmp_path, {"workers": 1})
    finally:
        sys.setswitchinterval(before)
    assert before > serving.SWITCH_INTERVAL_S  # CPython's default (5 ms) is longer
    assert seen["interval"] == serving.SWITCH_INTERVAL_S
