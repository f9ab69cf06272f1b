"""Error payloads of the instance runtime that Lambda's Python runtime gives too, run in this process."""

from __future__ import annotations

import decimal
import json
import re
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from squall.runtime.bootstrap import InitError, _Invoker, _run_one, load_handler
from tests.dispatcher.contexts import make_context

THIS_FILE = str(Path(__file__).resolve())
AWS_RECORDINGS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "aws-recorded" / "lambda-test_lambda.snapshot.json"
# One stackTrace entry as Lambda's Python runtime writes it: the frame's line, then its source line if it has one.
FRAME = re.compile(r'  File "[^"\n]+", line \d+, in [^\n]+\n(?:    [^\n]+\n)?')
NESTED_LEVELS = 100_000


def nested_list(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def deep_result_handler(event: Any, context: Any) -> Any:
    return nested_list(NESTED_LEVELS)


def deep_decimal_result_handler(event: Any, context: Any) -> Any:
    return {"price": decimal.Decimal("1.10"), "deep": nested_list(NESTED_LEVELS)}


def decimal_handler(event: Any, context: Any) -> Any:
    return {"price": decimal.Decimal("1.10")}


def subscript_handler(event: Any, context: Any) -> Any:
    values = {"a": 1}
    return values["a"] + values["missing"]


def run(handler: Callable[..., Any], body: bytes = b"{}") -> tuple[dict[str, Any], bytes]:
    """Run one invocation of `handler` as an instance runs it."""
    return _run_one(_Invoker(handler), body, make_context())


def recorded_stack_traces() -> list[str]:
    """Return every stackTrace entry in the Lambda responses recorded from AWS."""
    entries: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "stackTrace" and isinstance(item, list):
                    entries.extend(item)
                else:
                    collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(json.loads(AWS_RECORDINGS.read_text()))
    return entries


# Results that cannot be encoded


@pytest.mark.parametrize("handler", [deep_result_handler, deep_decimal_result_handler], ids=["list", "with-decimal"])
def test_deep_result_is_marshal_error(handler: Callable[..., Any]) -> None:
    meta, body = run(handler)
    error = json.loads(body)

    assert meta == {"error_type": "Runtime.MarshalError"}
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: maximum recursion depth exceeded")
    assert error["stackTrace"] == []


def test_result_after_marshal_error_is_encoded() -> None:
    run(deep_decimal_result_handler)

    meta, body = run(decimal_handler)

    assert meta == {}
    assert body == b'{"price": 1.10}'


# Within the 1,024 levels the server's own parser accepts. Python 3.11's decoder gives up
# before this depth; from 3.12 on, its limit is far deeper, so the handler gets the event.
DEEP_EVENT = b"[" * 1020 + b"]" * 1020


def decoder_accepts(document: bytes) -> bool:
    try:
        json.loads(document)
    except RecursionError:
        return False
    return True


@pytest.mark.skipif(decoder_accepts(DEEP_EVENT), reason="this Python's JSON decoder accepts 1,020 levels")
def test_deep_event_is_unmarshal_error() -> None:
    meta, body = run(decimal_handler, DEEP_EVENT)
    error = json.loads(body)

    assert meta == {"error_type": "Runtime.UnmarshalError"}
    assert error["errorMessage"].startswith("Unable to unmarshal input: maximum recursion depth exceeded")


@pytest.mark.skipif(not decoder_accepts(DEEP_EVENT), reason="this Python's JSON decoder gives up before 1,020 levels")
def test_deep_event_reaches_handler() -> None:
    meta, body = run(decimal_handler, DEEP_EVENT)

    assert meta == {}
    assert body == b'{"price": 1.10}'


# A handler module named like a built-in module


@pytest.fixture
def module_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("module", ["time", "sys", "time.clock"])
def test_builtin_module_handler_rejected(module_folder: Path, module: str) -> None:
    # The function's own time.py changes nothing: Python imports the built-in module in its place.
    (module_folder / "time.py").write_text("def handler(event, context):\n    return 'local'\n")

    with pytest.raises(InitError) as raised:
        load_handler(f"{module}.handler")

    assert raised.value.error_type == "Runtime.BuiltInModuleConflict"
    assert raised.value.message == f"Cannot use built-in module {module} as a handler module"
    assert raised.value.stack == []


def test_builtin_prefix_is_no_conflict(module_folder: Path) -> None:
    module = f"time_{uuid.uuid4().hex}"
    (module_folder / f"{module}.py").write_text("def handler(event, context):\n    return 'local'\n")

    assert load_handler(f"{module}.handler")({}, None) == "local"


# The shape of stackTrace


def test_recorded_aws_frames_have_no_column_marks() -> None:
    entries = recorded_stack_traces()

    assert entries
    assert all(FRAME.fullmatch(entry) for entry in entries), entries


def test_handler_frame_has_no_column_marks() -> None:
    meta, body = run(subscript_handler)
    line = subscript_handler.__code__.co_firstlineno + 2

    assert meta == {"error_type": "KeyError"}
    assert json.loads(body)["stackTrace"] == [
        f'  File "{THIS_FILE}", line {line}, in subscript_handler\n    return values["a"] + values["missing"]\n'
    ]


def test_module_frames_have_no_column_marks(module_folder: Path) -> None:
    module = f"fails_at_import_{uuid.uuid4().hex}"
    (module_folder / f"{module}.py").write_text('settings = {"a": 1}\ntotal = settings["a"] + settings["missing"]\n')

    with pytest.raises(InitError) as raised:
        load_handler(f"{module}.handler")

    assert raised.value.error_type == "KeyError"
    assert all(FRAME.fullmatch(entry) for entry in raised.value.stack), raised.value.stack
    assert raised.value.stack[-1].endswith('    total = settings["a"] + settings["missing"]\n')
