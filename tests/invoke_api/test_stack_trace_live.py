"""The stackTrace of function errors returned by a running server, compared with AWS's recordings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import squall

from lambda_apps import LiveApp, lambda_client
from recordings import recording

SQUALL_PACKAGE = str(Path(squall.__file__).resolve().parent)
# The function name at the end of a formatted frame's first line: `  File "...", line 3, in handler`.
FRAME_FUNCTION = re.compile(r'  File ".+", line \d+, in (\S+)\n')


def error_of(app: LiveApp, function: str, payload: Any = None) -> dict[str, Any]:
    """Invoke a function that fails and return its error payload."""
    body = json.dumps({} if payload is None else payload).encode()
    response = lambda_client(app.endpoint).invoke(FunctionName=function, Payload=body)
    assert response["FunctionError"] == "Unhandled"
    return json.loads(response["Payload"].read())


def frame_functions(frames: list[str]) -> list[str]:
    """Return the function name of each formatted frame."""
    names = []
    for frame in frames:
        match = FRAME_FUNCTION.match(frame)
        assert match is not None, frame
        names.append(match[1])
    return names


def test_import_error_shows_only_the_users_line(app: LiveApp) -> None:
    # Lambda sends no frames here; Squall keeps the line of the user's module whose import failed.
    error = error_of(app, "import_error")
    user_file = app.task_root / "import_error.py"

    assert error["errorType"] == "Runtime.ImportModuleError"
    assert len(error["stackTrace"]) == 1
    assert error["stackTrace"][0].startswith(
        f'  File "{user_file}", line 1, in <module>\n    import squall_no_such_module_for_tests'
    )


def test_async_error_starts_at_handler(app: LiveApp) -> None:
    error = error_of(app, "async_error")
    user_file = app.task_root / "async_error.py"

    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "async handler fails"
    assert error["stackTrace"] == [f'  File "{user_file}", line 6, in handler\n    raise ValueError("async handler fails")\n']


def test_library_frames_below_handler_stay(app: LiveApp) -> None:
    error = error_of(app, "parse_error", {"text": "{not json"})
    frames = error["stackTrace"]

    assert error["errorType"] == "JSONDecodeError"
    assert frames[0].startswith(f'  File "{app.task_root / "handlers.py"}", line ')
    assert frame_functions(frames)[0] == "parse_text"
    assert len(frames) > 1
    assert all("/json/" in frame for frame in frames[1:]), frames
    assert not any(SQUALL_PACKAGE in frame for frame in frames), frames


def test_module_error_frames_match_recording(app: LiveApp) -> None:
    expected = recording("TestLambdaErrors::test_lambda_runtime_error", "invocation_error")["Payload"]

    error = error_of(app, "module_error")

    # AWS keeps the import machinery's frames above the module's own. Only their line numbers differ between Python versions.
    assert frame_functions(error["stackTrace"]) == frame_functions(expected["stackTrace"])
    assert error["stackTrace"][-1].startswith(f'  File "{app.task_root / "module_error.py"}", line 2, in <module>')
