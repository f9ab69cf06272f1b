"""Record and log entry builders for the store tests."""

from __future__ import annotations

from squall.metering.records import InvocationRecord, LogEntry, Outcome


def make_record(
    request_id: str = "req-1",
    function: str = "resize",
    *,
    started_at: float = 1_700_000_000.0,
    outcome: Outcome = Outcome.SUCCESS,
    cold: bool = False,
    init_ms: float | None = None,
    error_type: str | None = None,
) -> InvocationRecord:
    return InvocationRecord(
        request_id=request_id,
        function=function,
        version="3",
        trigger="http",
        started_at=started_at,
        duration_ms=12.345,
        billed_ms=13,
        memory_mb=256,
        max_memory_mb=61,
        init_ms=init_ms,
        cold=cold,
        outcome=outcome,
        error_type=error_type,
    )


def make_log(
    request_id: str = "req-1", function: str = "resize", *, time: float = 1_700_000_000.0
) -> LogEntry:
    return LogEntry(
        function=function,
        request_id=request_id,
        time=time,
        text=f"START RequestId: {request_id}\nhello from {function}\nEND RequestId: {request_id}\n",
    )
