"""Benchmarks: accuracy (EER, FNMR at FMR, DET), 1:N search speed, log speed.

Each benchmark prints a table and writes a JSON report; none is a timed test. Modalities plug in
through :class:`carekey.bench.accuracy.AccuracyModality`.
"""
