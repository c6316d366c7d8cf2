"""Typer command-line interface. ``main.app`` is the ``carekey`` entry point."""
