"""Parts of Lambda's Python runtime that a function uses, checked through a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.runtime.live import invoke, task_root, write_service

HANDLERS = '''\
import logging
import os
import time


def probe(event, context):
    if event.get("deep"):
        value = []
        for _ in range(100_000):
            value = [value]
        return value
    return {"pid": os.getpid()}


def greet(event, context):
    return {"greeting": "hello"}


def log_parts(event, context):
    context.log("written by ")
    context.log("two calls\\n")
    return {"tenant_id": context.tenant_id}


def log_times(event, context):
    epoch = logging.makeLogRecord({"created": 0.0})
    return {
        "formatter": logging.Formatter().formatTime(epoch, "%Y-%m-%d %H:%M"),
        "local": time.strftime("%Y-%m-%d %H:%M", time.localtime(0)),
    }


def subscript(event, context):
    values = {"a": 1}
    return values["a"] + values["missing"]
'''


def service(tmp_path: Path, functions: str, **modules: str) -> Path:
    """Write a service of HANDLERS, the squall.yml `functions` given, and more modules by name."""
    files = {"handlers.py": HANDLERS, "squall.yml": f"service: runtime-checks\nfunctions:\n{functions}"}
    files.update({f"{name}.py": text for name, text in modules.items()})
    return write_service(tmp_path / "service", files)


def test_deep_result_marshal_error_instance_lives(serve: Any, tmp_path: Path) -> None:
    server = serve(service(tmp_path, "  probe:\n    handler: handlers.probe\n"))
    before = invoke(server, "probe")

    failed = invoke(server, "probe", {"deep": True})
    after = invoke(server, "probe")

    assert failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "Runtime.MarshalError"
    assert failed.payload["errorMessage"].startswith("Unable to marshal response: maximum recursion depth exceeded")
    assert after.payload == before.payload


def test_stdlib_namesake_spares_other_functions(serve: Any, tmp_path: Path) -> None:
    math_module = "def handler(event, context):\n    return 'mine'\n"
    server = serve(service(tmp_path, "  greet:\n    handler: handlers.greet\n", math=math_module))

    greeted = invoke(server, "greet")

    assert greeted.function_error is None
    assert greeted.payload == {"greeting": "hello"}


def test_builtin_module_handler_rejected(serve: Any, tmp_path: Path) -> None:
    time_module = "def handler(event, context):\n    return 'mine'\n"
    server = serve(service(tmp_path, "  clock:\n    handler: time.handler\n", time=time_module))

    failed = invoke(server, "clock")

    assert failed.function_error == "Unhandled"
    assert failed.payload == {
        "errorMessage": "Cannot use built-in module time as a handler module",
        "errorType": "Runtime.BuiltInModuleConflict",
        "requestId": "",
        "stackTrace": [],
    }


def test_context_log_adds_no_newline(serve: Any, tmp_path: Path) -> None:
    server = serve(service(tmp_path, "  log_parts:\n    handler: handlers.log_parts\n"))

    logged = invoke(server, "log_parts")

    assert logged.payload == {"tenant_id": None}
    assert "\nwritten by two calls\n" in logged.log


def test_logging_times_utc_despite_tz(serve: Any, tmp_path: Path) -> None:
    # JST-9 is Japan's time in POSIX form, which needs no time zone database.
    functions = "  log_times:\n    handler: handlers.log_times\n    environment: {TZ: JST-9}\n"
    server = serve(service(tmp_path, functions))

    times = invoke(server, "log_times")

    assert times.payload == {"formatter": "1970-01-01 00:00", "local": "1970-01-01 09:00"}


def test_stack_trace_has_no_column_marks(serve: Any, tmp_path: Path) -> None:
    server = serve(service(tmp_path, "  subscript:\n    handler: handlers.subscript\n"))

    failed = invoke(server, "subscript")
    line = HANDLERS.splitlines().index('    return values["a"] + values["missing"]') + 1

    assert failed.payload["errorType"] == "KeyError"
    assert failed.payload["stackTrace"] == [
        f'  File "{task_root(server) / "handlers.py"}", line {line}, in subscript\n'
        '    return values["a"] + values["missing"]\n'
    ]


def test_hyphenated_handler_folder_runs(serve: Any, tmp_path: Path) -> None:
    manifest = "service: hyphens\nfunctions:\n  api:\n    handler: my-handlers/user-api.handler\n"
    folder = write_service(tmp_path / "hyphens", {"squall.yml": manifest})
    write_service(folder / "my-handlers", {"user-api.py": "def handler(event, context):\n    return 'imported'\n"})
    server = serve(folder, "--no-watch")

    called = invoke(server, "api")

    assert (called.payload, called.function_error) == ("imported", None)


ASYNC_CALLABLES = '''\
import functools


class AsyncCall:
    async def __call__(self, event, context):
        return {"from": "async __call__"}


async def _greet(event, context, greeting):
    return {"from": greeting}


async_object = AsyncCall()
async_partial = functools.partial(_greet, greeting="async partial")
'''


def test_async_callable_handlers_awaited(serve: Any, tmp_path: Path) -> None:
    functions = "  object:\n    handler: callables.async_object\n  partial:\n    handler: callables.async_partial\n"
    server = serve(service(tmp_path, functions, callables=ASYNC_CALLABLES))

    from_object = invoke(server, "object")
    from_partial = invoke(server, "partial")

    assert from_object.payload == {"from": "async __call__"}
    assert from_partial.payload == {"from": "async partial"}
    assert "never awaited" not in from_object.log + from_partial.log
