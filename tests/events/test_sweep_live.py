"""The server's TTL sweep deletes expired table items and records their REMOVE changes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from squall.sdk import Client
from squall.sdk.tables import Table
from tests.events.test_async_live import wait_for

MANIFEST = """service: sweep
resources:
  tables:
    sessions: {partition_key: id, ttl_attribute: expires_at}
functions:
  hello:
    handler: app.hello
"""


def test_expired_items_swept(serve: Any, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "squall.yml").write_text(MANIFEST)
    (app / "app.py").write_text("def hello(event, context):\n    return 'hi'\n")
    server = serve(app, "--no-watch", env={"SQUALL_SWEEP_INTERVAL_S": "0.2"})
    sessions = Table("sessions", Client(server.endpoint))

    sessions.put({"id": "old", "expires_at": int(time.time()) - 10})
    sessions.put({"id": "fresh", "expires_at": int(time.time()) + 3600})

    wait_for(lambda: sessions.get({"id": "old"}) is None, timeout_s=20)
    assert sessions.get({"id": "fresh"})["id"] == "fresh"
