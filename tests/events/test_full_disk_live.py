"""A full disk under the data folder: writes fail with a clear error, and the server goes on serving."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.sdk import Client, RemoteError
from squall.sdk.queues import Queue

DISK_MB = 6
MESSAGE = "x" * 200_000

MANIFEST = """service: full
resources:
  queues:
    jobs: {}
functions:
  hello:
    handler: app.hello
    events:
      - http: {method: GET, path: /hello}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Mount a tmpfs of DISK_MB megabytes for the data folder, or skip where mounting is not allowed."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_rejects_sends_and_keeps_serving(serve: Any, tmp_path: Path, small_disk: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "squall.yml").write_text(MANIFEST)
    (app / "app.py").write_text("def hello(event, context):\n    return 'hi'\n")
    server = serve(app, "--no-watch", data=small_disk)
    queue = Queue("jobs", Client(server.endpoint))

    accepted = 0
    with pytest.raises(RemoteError) as raised:
        for _ in range(2 * DISK_MB * 1024 * 1024 // len(MESSAGE)):
            queue.send(MESSAGE)
            accepted += 1

    assert raised.value.status == 507
    assert raised.value.code == "StorageFull"
    assert "disk is full" in str(raised.value)
    assert accepted > 0
    assert httpx.get(server.endpoint + "/hello", timeout=20).json() == "hi"
    assert httpx.get(server.endpoint + "/_squall/api/health", timeout=20).status_code == 200
    assert server.process.poll() is None
