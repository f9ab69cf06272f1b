"""Helpers for tests that drive a real `squall up` process: start, copy apps, poll."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

APPS = Path(__file__).resolve().parent / "apps"
REPO = Path(__file__).resolve().parents[2]
HEALTH_PATH = "/_squall/api/health"
FUNCTIONS_PATH = "/_squall/api/functions"
LOGS_PATH = "/_squall/api/logs"


def _load_root_conftest() -> ModuleType:
    # `tests` is not a package, so its conftest cannot be imported by name.
    name = "squall_tests_root_conftest"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_root = _load_root_conftest()
RunningServer = _root.RunningServer
start_server: Callable[..., Any] = _root.start_server


def copy_app(app: str | Path, destination: Path) -> Path:
    """Copy an app folder (a name under apps/, or a path) into `destination` and return the copy.

    Servers run on copies, so that bytecode caches and edits stay out of the source tree.
    """
    source = APPS / app if isinstance(app, str) else app
    target = destination / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def wait_for(condition: Callable[[], Any], timeout_s: float, interval_s: float = 0.1) -> Any:
    """Poll `condition` until it returns a truthy value; return that value, or the last one at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)


def instance_counts(endpoint: str, function: str) -> dict[str, int]:
    """Return the idle and busy instance counts that `GET /_squall/api/functions` shows for a function."""
    listing = httpx.get(endpoint + FUNCTIONS_PATH, timeout=10).json()
    for entry in listing["functions"]:
        if entry["name"] == function:
            return entry["instances"]
    raise LookupError(f"function {function!r} is not in {listing}")


def log_entries(endpoint: str, **query: str) -> list[dict[str, Any]]:
    """Return the log entries `GET /_squall/api/logs` returns for the query."""
    response = httpx.get(endpoint + LOGS_PATH, params=query, timeout=10)
    response.raise_for_status()
    return response.json()["entries"]
