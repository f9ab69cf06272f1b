"""The X-Ray trace in an invocation's log while tracing is on, as Lambda's active tracing writes it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from squall.dispatcher.dispatcher import Dispatcher, Invocation, NodeSettings
from squall.manifest.spec import FunctionSpec, ServiceSpec
from squall.metering.records import LogEntry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TRACE_ID = "5f35ae120c0fec141ab77a00bc047aa2"
CALLER_SPAN_ID = "2be948a625588e32"


def write_app(folder: Path) -> ServiceSpec:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handlers.py").write_text("def echo(event, context):\n    print('in the handler')\n    return event\n")
    functions = {
        "text": FunctionSpec(name="text", handler="handlers.echo"),
        "structured": FunctionSpec(name="structured", handler="handlers.echo", environment={"AWS_LAMBDA_LOG_FORMAT": "JSON"}),
    }
    return ServiceSpec(service="xray", root=folder, manifest_path=folder / "squall.yml", functions=functions)


@pytest.fixture
async def logs(tmp_path: Path, exporter: InMemorySpanExporter) -> AsyncIterator[tuple[Dispatcher, list[LogEntry]]]:
    entries: list[LogEntry] = []
    running = Dispatcher(NodeSettings(data_dir=tmp_path / "data"), lambda record: None, entries.append)
    running.start()
    await running.deploy(write_app(tmp_path / "app"))
    yield running, entries
    await running.close()


def span_id_of(exporter: InMemorySpanExporter, name: str) -> str:
    (span,) = [span for span in exporter.get_finished_spans() if span.name == name]
    return f"{span.context.span_id:016x}"


async def test_text_log_ends_with_xray_line(
    logs: tuple[Dispatcher, list[LogEntry]], exporter: InMemorySpanExporter
) -> None:
    dispatcher, entries = logs
    traceparent = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
    for _ in range(2):  # a cold call, then a warm one that printed something
        await dispatcher.invoke(Invocation("text", b"{}", "cli", traceparent=traceparent))

    segments = [f"{span.context.span_id:016x}" for span in exporter.get_finished_spans() if span.name == "invoke text"]
    assert len(entries) == 2
    for entry, segment in zip(entries, segments):
        lines = entry.text.splitlines()
        assert lines[-2].startswith("REPORT RequestId: ")
        assert lines[-1] == f"XRAY TraceId: 1-5f35ae12-0c0fec141ab77a00bc047aa2\tSegmentId: {segment}\tSampled: true\t"


async def test_unsampled_call_has_no_xray_line(logs: tuple[Dispatcher, list[LogEntry]]) -> None:
    dispatcher, entries = logs
    await dispatcher.invoke(Invocation("text", b"{}", "cli", traceparent=f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00"))

    assert entries[-1].text.splitlines()[-1].startswith("REPORT RequestId: ")
    assert "XRAY" not in entries[-1].text


async def test_json_log_carries_tracing(
    logs: tuple[Dispatcher, list[LogEntry]], exporter: InMemorySpanExporter
) -> None:
    dispatcher, entries = logs
    await dispatcher.invoke(Invocation("structured", b"{}", "cli", traceparent=f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))

    segment = span_id_of(exporter, "invoke structured")
    lines = [json.loads(line) for line in entries[-1].text.splitlines() if line.startswith("{")]
    records = {line["type"]: line["record"] for line in lines if "type" in line}
    expected = {
        "spanId": segment,
        "type": "X-Amzn-Trace-Id",
        "value": f"Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent={segment};Sampled=1",
    }
    assert records["platform.start"]["tracing"] == expected
    assert records["platform.report"]["tracing"] == expected
    assert records["platform.report"]["status"] == "success"
