"""The X-Ray trace header of a chain of calls: its count of each function's invocations, and the callee's header."""

from __future__ import annotations

from squall.gateway.invoke_api import chain_trace_header
from squall.runtime.bootstrap import lineage_key, xray_trace_header

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LOOP = lineage_key("loop")
OTHER = lineage_key("other")


def test_lineage_key_is_eight_hex_digits() -> None:
    assert len(LOOP) == 8
    assert int(LOOP, 16) >= 0
    assert LOOP != OTHER
    assert lineage_key("loop") == LOOP


def test_first_call_in_chain_counts_one() -> None:
    count, callee = chain_trace_header(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1", "loop")

    assert count == 1
    assert callee == f"Root={ROOT};Sampled=1;Lineage={LOOP}:1"


def test_count_of_function_increments() -> None:
    count, callee = chain_trace_header(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={LOOP}:15", "loop")

    assert count == 16
    assert callee == f"Root={ROOT};Sampled=0;Lineage={LOOP}:16"


def test_other_functions_keep_their_counts() -> None:
    count, callee = chain_trace_header(f"Root={ROOT};Lineage={OTHER}:4|{LOOP}:2", "loop")

    assert count == 3
    assert callee == f"Root={ROOT};Lineage={OTHER}:4|{LOOP}:3"


def test_new_function_appended_to_lineage() -> None:
    count, callee = chain_trace_header(f"Root={ROOT};Lineage={OTHER}:4", "loop")

    assert count == 1
    assert callee == f"Root={ROOT};Lineage={OTHER}:4|{LOOP}:1"


def test_spaces_between_fields_accepted() -> None:
    count, callee = chain_trace_header(f"Root={ROOT}; Sampled=1; Lineage={LOOP}:7", "loop")

    assert count == 8
    assert callee == f"Root={ROOT};Sampled=1;Lineage={LOOP}:8"


def test_invalid_fields_dropped() -> None:
    header = f"Root=1-nothex-xyz;Sampled=maybe;Lineage={LOOP}:x|short:3|{OTHER}:1234567890|{OTHER}:2"

    count, callee = chain_trace_header(header, "loop")

    assert count == 1
    assert callee == f"Lineage={OTHER}:2|{LOOP}:1"


def test_header_without_fields_starts_count() -> None:
    count, callee = chain_trace_header("garbage", "loop")

    assert count == 1
    assert callee == f"Lineage={LOOP}:1"


def test_callee_keeps_caller_root_and_lineage() -> None:
    header = xray_trace_header(None, f"Root={ROOT};Sampled=1;Lineage={LOOP}:3", f"{LOOP}:1")

    fields = dict(field.split("=", 1) for field in header.split(";"))
    assert fields["Root"] == ROOT
    assert fields["Sampled"] == "1"
    assert fields["Lineage"] == f"{LOOP}:3"
    assert len(fields["Parent"]) == 16


def test_callee_without_caller_starts_lineage() -> None:
    header = xray_trace_header(None, None, f"{LOOP}:1")

    assert header.endswith(f";Sampled=0;Lineage={LOOP}:1")
    assert not header.startswith(f"Root={ROOT}")


def test_traced_call_takes_parent_from_span() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

    header = xray_trace_header(traceparent, f"Root={ROOT};Sampled=1;Lineage={LOOP}:2")

    assert header == f"Root={ROOT};Parent=00f067aa0ba902b7;Sampled=0;Lineage={LOOP}:2"
