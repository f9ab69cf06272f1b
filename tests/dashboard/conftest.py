"""Fixtures of the dashboard tests: a store with invocations and a stand-in for the platform."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from squall.gateway.router import Router
from squall.manifest.spec import FunctionSpec, HttpEvent, QueueTrigger
from squall.metering.pricing import AWS_LAMBDA_X86
from squall.metering.records import InvocationRecord, LogEntry, Outcome
from squall.services.hub import ServiceHub
from squall.store.sqlite import SqliteStore

TOKEN = "dashboard-token"
HANDLER_OUTPUT = "resizing image cat.png"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ServiceHub]:
    opened = ServiceHub(tmp_path / "services")
    yield opened
    opened.close()


def fake_platform(store: SqliteStore, hub: ServiceHub | None) -> SimpleNamespace:
    resize = FunctionSpec(
        name="resize",
        handler="app.resize",
        http=(HttpEvent("POST", "/resize", "2.0"),),
        triggers=(QueueTrigger("uploads"),),
    )
    closed = FunctionSpec(name="closed", handler="app.closed", reserved_concurrency=0)
    service = SimpleNamespace(service="images", functions={"resize": resize, "closed": closed})
    pools = {"resize": SimpleNamespace(idle_count=1, busy_count=0)}
    dispatcher = SimpleNamespace(
        pools=pools, services={"images": service}, function_pools=lambda name: [pools[name]] if name in pools else []
    )
    ages = {("resize", "clicks", "shardId-000000000000"): 12.5}
    return SimpleNamespace(
        dispatcher=dispatcher,
        router=Router([]),
        async_invoker=None,
        hub=hub,
        store=store,
        prices=AWS_LAMBDA_X86,
        record_triggers=SimpleNamespace(iterator_ages=lambda: ages),
    )


def invocation(
    request_id: str, started_at: float, outcome: Outcome, cold: bool = False, version: str = "$LATEST"
) -> InvocationRecord:
    return InvocationRecord(
        request_id=request_id,
        function="resize",
        version=version,
        trigger="http",
        started_at=started_at,
        duration_ms=0.0 if outcome is Outcome.THROTTLED else 12.0,
        billed_ms=0 if outcome is Outcome.THROTTLED else 12,
        memory_mb=128,
        max_memory_mb=30,
        init_ms=3.0 if cold else None,
        cold=cold,
        outcome=outcome,
        error_type="ValueError" if outcome is Outcome.ERROR else None,
    )


@pytest.fixture
def stored(store: SqliteStore) -> dict[str, float]:
    """Store a cold success, an error of version 2 with markup in its output, and a throttle, in the last minute."""
    now = time.time()
    calls = [
        ("req-cold", now - 30, Outcome.SUCCESS, True, "$LATEST", HANDLER_OUTPUT),
        ("req-error", now - 20, Outcome.ERROR, False, "2", "<script>alert(1)</script>"),
        ("req-throttled", now - 10, Outcome.THROTTLED, False, "$LATEST", None),
    ]
    for request_id, started_at, outcome, cold, version, output in calls:
        store.add_record(invocation(request_id, started_at, outcome, cold, version))
        if output is not None:
            text = f"START RequestId: {request_id} Version: $LATEST\n{output}\nEND RequestId: {request_id}\n"
            store.add_log(LogEntry("resize", request_id, started_at, text))
    assert store.flush(30)
    return {request_id: started_at for request_id, started_at, *_ in calls}
