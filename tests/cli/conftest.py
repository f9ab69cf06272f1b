"""Fixtures that run the `squall` commands against a fake API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from cli_fakes import FIXED_NOW, FakeApi, Recorder
from squall.cli import CliContext, cli


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty folder without the user's SQUALL_* settings."""
    for name in ("SQUALL_ENDPOINT", "SQUALL_TOKEN", "SQUALL_DATA", "SQUALL_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def sleep() -> Recorder:
    return Recorder()


@pytest.fixture
def run(api: FakeApi, sleep: Recorder) -> Callable[..., Result]:
    """Run `squall ARGS...` against the fake API and return click's result."""

    def run_command(*args: str, env: dict[str, str] | None = None) -> Result:
        settings = CliContext(transport=httpx.MockTransport(api.handle), sleep=sleep, clock=lambda: FIXED_NOW)
        return CliRunner().invoke(cli, list(args), obj=settings, env=env, catch_exceptions=False)

    return run_command
