"""The web UI: server-rendered HTML (Jinja2) mounted on the API app, same port (``create_app`` mounts it).

Thin like the API: routes parse forms, call services and render; every purpose is fixed by the screen.
"""

from carekey.interfaces.web.app import build_web, mount

__all__ = ["build_web", "mount"]
