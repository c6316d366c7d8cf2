"""carekey: a consent-first registry for community health-screening programs."""

__version__ = "0.1.0"
