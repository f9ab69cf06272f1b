"""Stopping the server: what was accepted before SIGTERM still runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_server import wait_for

APP = """service: shutdown
functions:
  slow:
    handler: app.slow
    timeout_s: 10
"""


def busy(endpoint: str, function: str) -> bool:
    """Tell whether an instance of the function is running a call."""
    functions = httpx.get(endpoint + "/_squall/api/functions", timeout=10).json()["functions"]
    return any(f["name"] == function and f["instances"]["busy"] == 1 for f in functions)


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

    assert wait_for(lambda: busy(server.endpoint, "slow"), timeout_s=20)
    assert server.stop() == 0

    restarted = serve(folder, data=server.data)
    entries = httpx.get(restarted.endpoint + "/_squall/api/logs", params={"function": "slow"}, timeout=10).json()["entries"]
    text = "\n".join(entry["text"] for entry in entries)
    assert "finished 7" in text
    assert "REPORT RequestId:" in text


STOPPING = Path(__file__).parent / "apps" / "stopping"


# A route's call runs in a task of its own, because the gateway stops waiting
# at its integration timeout. So the stop ends it by killing its instance,
# while an Invoke API call is cancelled with its request. Both are logged alike.
@pytest.mark.parametrize(
    ("method", "path", "status", "body", "error_type"),
    [
        ("GET", "/slow", 503, {"message": "Service Unavailable"}, "Squall.Cancelled"),
        ("GET", "/rest/slow", 504, {"message": "Endpoint request timed out"}, "Squall.Cancelled"),
        (
            "POST",
            "/2015-03-31/functions/slow/invocations",
            500,
            {"Type": "Service", "Message": "The server stopped before the invocation ended."},
            "Squall.Cancelled",
        ),
    ],
    ids=["http api", "rest", "invoke api"],
)
def test_call_cut_by_stop_is_logged(
    serve: Any, method: str, path: str, status: int, body: dict[str, str], error_type: str
) -> None:
    server = serve(STOPPING, "--no-watch")
    answers: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: answers.append(httpx.request(method, server.endpoint + path, content=b"{}", timeout=60))
    )
    caller.start()

    assert wait_for(lambda: busy(server.endpoint, "slow"), timeout_s=20)
    assert server.stop() == 0
    caller.join(timeout=60)

    assert answers[0].status_code == status
    assert {key: answers[0].json().get(key) for key in body} == body
    # The stop is logged when the signal arrives, before the calls in flight are cut.
    stopping = next(index for index, line in enumerate(server.output) if "received signal 15: stopping" in line)
    cut = next(index for index, line in enumerate(server.output) if "Cancel" in line and "running task" in line)
    assert stopping < cut
    restarted = serve(STOPPING, "--no-watch", data=server.data)
    entries = httpx.get(restarted.endpoint + "/_squall/api/logs", params={"function": "slow"}, timeout=10).json()["entries"]
    assert len(entries) == 1
    assert "slow call started" in entries[0]["text"]
    assert f"Status: error\tError Type: {error_type}" in entries[0]["text"]


TRIGGERED = """service: drain
resources:
  queues:
    work: {visibility_timeout_s: 60}
  tables:
    users: {partition_key: id}
functions:
  on_work:
    handler: app.slow
    timeout_s: 10
    events:
      - queue: {name: work, batch_size: 1}
  on_users:
    handler: app.slow
    timeout_s: 10
    events:
      - table_stream: {table: users, starting_position: trim_horizon}
"""


def started_and_finished(endpoint: str, function: str) -> tuple[int, int]:
    entries = httpx.get(endpoint + "/_squall/api/logs", params={"function": function}, timeout=10).json()["entries"]
    text = "\n".join(entry["text"] for entry in entries)
    return text.count("started slow call"), text.count("finished slow call")


# A batch whose call is running when the server stops gets the same grace
# period as an HTTP request, so it is handled once and not delivered again.
@pytest.mark.parametrize(
    ("function", "command"),
    [
        ("on_work", ["queue", "send", "work", "one message"]),
        ("on_users", ["table", "put", "users", '{"id": "u1"}']),
    ],
    ids=["queue", "table stream"],
)
def test_triggered_call_in_flight_finishes(serve: Any, tmp_path: Path, function: str, command: list[str]) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(TRIGGERED)
    (folder / "app.py").write_text(
        "import time\n\ndef slow(event, context):\n"
        "    print('started slow call')\n    time.sleep(1.5)\n    print('finished slow call')\n"
    )
    server = serve(folder)
    sent = subprocess.run(
        [sys.executable, "-m", "squall", *command, "--endpoint", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr

    assert wait_for(lambda: busy(server.endpoint, function), timeout_s=20)
    assert server.stop() == 0
    assert not any("cut at shutdown" in line for line in server.output)

    restarted = serve(folder, data=server.data)
    assert started_and_finished(restarted.endpoint, function) == (1, 1)
    if function == "on_work":
        listed = subprocess.run(
            [sys.executable, "-m", "squall", "queue", "ls", "--output", "json", "--endpoint", restarted.endpoint],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        (work,) = json.loads(listed.stdout)["queues"]
        assert (work["stats"]["visible"], work["stats"]["in_flight"]) == (0, 0)
