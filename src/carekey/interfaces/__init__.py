"""Thin interfaces: FastAPI (api/), Typer CLI (cli/), server-rendered web UI (web/)."""
