"""Stopping the server: what was accepted before SIGTERM still runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from live_server import wait_for

APP = """service: shutdown
functions:
  slow:
    handler: app.slow
    timeout_s: 10
"""


def test_async_invocation_in_flight_finishes(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(APP)
    (folder / "app.py").write_text("import time\n\ndef slow(event, context):\n    time.sleep(1)\n    print('finished', event['n'])\n")
    server = serve(folder)

    queued = subprocess.run(
        [sys.executable, "-m", "squall", "invoke", "slow", "--async", "--payload", '{"n": 7}', "--endpoint", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert queued.returncode == 0, queued.stderr

    def busy() -> bool:
        functions = httpx.get(server.endpoint + "/_squall/api/functions", timeout=10).json()["functions"]
        return any(f["name"] == "slow" and f["instances"]["busy"] == 1 for f in functions)

    assert wait_for(busy, timeout_s=20)
    assert server.stop() == 0

    restarted = serve(folder, data=server.data)
    entries = httpx.get(restarted.endpoint + "/_squall/api/logs", params={"function": "slow"}, timeout=10).json()["entries"]
    text = "\n".join(entry["text"] for entry in entries)
    assert "finished 7" in text
    assert "REPORT RequestId:" in text
