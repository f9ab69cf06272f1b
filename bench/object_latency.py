"""Object latency: from the start of an upload to the handler the upload triggers.

Squall serves bench/apps/objects. The benchmark uploads small objects one at a
time through the SDK, with its send time in the key, and the handler notes how
long after that it ran. The baseline is the same path without storage: an
asynchronous invocation (`InvocationType: Event`) of a second function, timed
the same way. Both go through the durable asynchronous queue; the difference
is the object store's write, its event log and the object trigger.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import APPS, median, print_table, squall_server, summarize, wait_for, write_results

NAME = "object_latency"
UPLOADS = 200
QUICK_UPLOADS = 20
OBJECT_BYTES = 1024
PAUSE_S = 0.02  # between sends, so each measures an idle path rather than a queue
DELIVERY_TIMEOUT_S = 60.0


def read_notes(out: Path) -> list[dict[str, float]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def run(quick: bool = False) -> None:
    from squall.sdk import Client
    from squall.sdk.objects import Bucket

    count = QUICK_UPLOADS if quick else UPLOADS
    with tempfile.TemporaryDirectory(prefix="squall-bench-objects-") as scratch:
        root = Path(scratch)
        out = root / "notes.jsonl"
        app = root / "app"
        app.mkdir()
        (app / "app.py").write_text((APPS / "objects" / "app.py").read_text())
        manifest = (APPS / "objects" / "squall.yml").read_text()
        manifest = manifest.replace("handler: app.on_upload", f"handler: app.on_upload\n    environment: {{OUT: {str(out)!r}}}")
        manifest = manifest.replace("handler: app.on_event", f"handler: app.on_event\n    environment: {{OUT: {str(out)!r}}}")
        (app / "squall.yml").write_text(manifest)

        with squall_server(app, root / "data") as server:
            bucket = Bucket("uploads", Client(server.endpoint))
            body = b"x" * OBJECT_BYTES
            upload_ms = []
            with httpx.Client(timeout=30) as client:
                for number in range(count):
                    # Warm-up pairs first: the first of each kind includes a cold start.
                    started = time.time_ns()
                    bucket.put(f"bench/{number}-{started}", body)
                    upload_ms.append((time.time_ns() - started) / 1e6)
                    event = json.dumps({"sent_ns": time.time_ns()})
                    client.post(
                        f"{server.endpoint}/2015-03-31/functions/on_event/invocations",
                        content=event,
                        headers={"X-Amz-Invocation-Type": "Event"},
                    )
                    time.sleep(PAUSE_S)
            wait_for(lambda: len(read_notes(out)) >= 2 * count, DELIVERY_TIMEOUT_S, f"{2 * count} handler notes")
        notes = read_notes(out)

    objects = [note["latency_ms"] for note in notes if note["kind"] == "object"][1:]
    events = [note["latency_ms"] for note in notes if note["kind"] == "async"][1:]
    results = {
        "uploads": count,
        "object_bytes": OBJECT_BYTES,
        "upload_ms": summarize(upload_ms),
        "upload_to_handler_ms": summarize(objects),
        "baseline_async_event_to_handler_ms": summarize(events),
        "ratio_p50": median(objects) / median(events) if events else float("nan"),
    }
    path = write_results(NAME, results)
    rows = [
        ["PUT round trip (SDK)", *[results["upload_ms"][k] for k in ("n", "p50", "p99", "max")]],
        ["upload to handler", *[results["upload_to_handler_ms"][k] for k in ("n", "p50", "p99", "max")]],
        ["baseline: Event invoke to handler", *[results["baseline_async_event_to_handler_ms"][k] for k in ("n", "p50", "p99", "max")]],
    ]
    print_table("Object latency, ms (first of each kind left out: cold start)", ["", "n", "p50", "p99", "max"], rows)
    print(f"ratio of p50s, upload to handler / Event invoke to handler: {results['ratio_p50']:.2f}")
    print(f"results: {path}")
