"""Prometheus metrics: ``/metrics`` (not part of the public API)."""
