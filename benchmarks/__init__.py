"""Benchmarks of outreach-async: ``nox -s bench`` (or ``python -m benchmarks --quick``)."""
