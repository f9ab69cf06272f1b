"""The X-Ray trace header each invocation gets in _X_AMZN_TRACE_ID."""

from __future__ import annotations

from squall.runtime.bootstrap import xray_trace_header


def test_header_follows_traced_span() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    assert xray_trace_header(traceparent) == "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"


def test_unsampled_traceparent_stays_unsampled() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

    assert xray_trace_header(traceparent).endswith(";Sampled=0")


def test_untraced_call_gets_new_trace() -> None:
    first, second = xray_trace_header(None), xray_trace_header(None)

    assert first.endswith(";Sampled=0")
    assert first != second


def test_malformed_traceparent_gets_new_trace() -> None:
    for traceparent in ("bad", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz"):
        assert xray_trace_header(traceparent).endswith(";Sampled=0")
