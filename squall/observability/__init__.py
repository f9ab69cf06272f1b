"""Observability of the running platform: Prometheus metrics."""

from squall.observability.metrics import Metrics

__all__ = ["Metrics"]
