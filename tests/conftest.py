"""Fixtures shared by the integration tests: a real `squall up` on an ephemeral port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from squall.store.sqlite import SqliteStore
from squall.testing import wait_until_serving

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"
SERVER_START_TIMEOUT_S = 60.0


@dataclass
class RunningServer:
    """A `squall up` process and what the tests need to reach it."""

    process: subprocess.Popen[str]
    endpoint: str
    data: Path
    output: list[str] = field(default_factory=list)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(folder: Path, data: Path, *extra: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start `squall up FOLDER --port 0` and wait for the line that names its address."""
    command = [sys.executable, "-m", "squall", "up", str(folder), "--port", "0", "--data", str(data), *extra]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    endpoint, lines = wait_until_serving(process, SERVER_START_TIMEOUT_S)
    return RunningServer(process, endpoint, data, lines)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """Start servers on demand; every one is stopped when the test ends."""
    servers: list[RunningServer] = []

    def _serve(folder: Path, *extra: str, env: dict[str, str] | None = None, data: Path | None = None) -> RunningServer:
        server = start_server(folder, data or tmp_path / f"data{len(servers)}", *extra, env=env)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A real SQLite store in the test's folder, flushed every 10 ms."""
    opened = SqliteStore(tmp_path / "squall.db", flush_interval_s=0.01)
    opened.start()
    yield opened
    opened.close()
