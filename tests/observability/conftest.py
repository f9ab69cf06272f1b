"""Fixtures shared by the tracing tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from squall.observability import tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Turn tracing on with an in-memory exporter for the test, and off after it."""
    # Imported here: a test that checks tracing stays off imports these modules in a
    # fresh interpreter that must not load OpenTelemetry.
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    tracing.configure(memory, batch=False)
    yield memory
    tracing.shutdown()
