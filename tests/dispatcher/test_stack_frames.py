"""The stackTrace the instance runtime reports for failing handlers and modules, run in this process."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from squall.runtime.bootstrap import InitError, _Invoker, _run_one, load_handler
from tests.dispatcher.contexts import make_context

THIS_FILE = str(Path(__file__).resolve())
RUNTIME_FOLDER = str(Path(load_handler.__code__.co_filename).resolve().parent)
ASYNCIO_FOLDER = str(Path(asyncio.__file__).resolve().parent)


def failing_handler(event: Any, context: Any) -> Any:
    raise ValueError("sync handler fails")


async def failing_async_handler(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)
    raise ValueError("async handler fails")


def parsing_handler(event: Any, context: Any) -> Any:
    return json.loads(event["text"])


def stack_trace(handler: Callable[..., Any], event: Any) -> list[str]:
    """Run `handler` as an instance runs it and return the stackTrace of the error it reports."""
    meta, body = _run_one(_Invoker(handler), json.dumps(event).encode(), make_context())
    assert meta.get("error_type") is not None, body
    return json.loads(body)["stackTrace"]


@pytest.mark.parametrize(
    ("handler", "line"),
    [
        (failing_handler, 'raise ValueError("sync handler fails")'),
        (failing_async_handler, 'raise ValueError("async handler fails")'),
    ],
    ids=["sync", "async"],
)
def test_trace_is_handler_frame_only(handler: Callable[..., Any], line: str) -> None:
    frames = stack_trace(handler, {})

    assert len(frames) == 1, frames
    assert frames[0].startswith(f'  File "{THIS_FILE}", line ')
    assert frames[0].endswith(f", in {handler.__name__}\n    {line}\n")


def test_async_trace_has_no_asyncio_frames() -> None:
    frames = stack_trace(failing_async_handler, {})

    assert not any(ASYNCIO_FOLDER in frame for frame in frames), frames
    assert not any(RUNTIME_FOLDER in frame for frame in frames), frames


def test_called_library_frames_stay() -> None:
    frames = stack_trace(parsing_handler, {"text": "{not json"})
    json_folder = str(Path(json.__file__).resolve().parent)

    assert frames[0].startswith(f'  File "{THIS_FILE}", line ')
    assert ", in parsing_handler\n" in frames[0]
    assert len(frames) > 1
    assert all(json_folder in frame for frame in frames[1:]), frames


def test_standard_library_handler_keeps_frames() -> None:
    # With no frame of the function's own code, the standard library's frames are all there is to show.
    frames = stack_trace(os.path.join, 1)

    assert frames
    assert not any(RUNTIME_FOLDER in frame for frame in frames), frames


@pytest.fixture
def module_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_import_module_error_keeps_only_the_users_frame(module_folder: Path) -> None:
    module = f"needs_missing_{uuid.uuid4().hex}"
    path = module_folder / f"{module}.py"
    path.write_text("import squall_no_such_module_for_tests\n")

    with pytest.raises(InitError) as raised:
        load_handler(f"{module}.handler")

    assert raised.value.error_type == "Runtime.ImportModuleError"
    assert len(raised.value.stack) == 1
    assert raised.value.stack[0].startswith(f'  File "{path}", line 1, in <module>')


def test_missing_handler_module_has_no_frames(module_folder: Path) -> None:
    with pytest.raises(InitError) as raised:
        load_handler(f"no_such_module_{uuid.uuid4().hex}.handler")

    assert raised.value.error_type == "Runtime.ImportModuleError"
    assert raised.value.stack == []


def test_module_error_keeps_import_frames(module_folder: Path) -> None:
    module = f"fails_at_import_{uuid.uuid4().hex}"
    path = module_folder / f"{module}.py"
    path.write_text('raise RuntimeError("module fails")\n')

    with pytest.raises(InitError) as raised:
        load_handler(f"{module}.handler")
    frames = raised.value.stack

    assert raised.value.error_type == "RuntimeError"
    assert ", in import_module\n" in frames[0]
    assert frames[-1].startswith(f'  File "{path}", line 1, in <module>')
    assert not any(RUNTIME_FOLDER in frame for frame in frames), frames
