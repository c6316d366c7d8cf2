"""The single composition root: builds concrete adapters from Settings and wires the services.

Nothing imports interfaces; interfaces import this module. No engine is created at import time.
"""

from __future__ import annotations
