"""Schedule accuracy: how late each `rate(1 minute)` tick reaches its handler.

Squall serves FUNCTIONS functions, each with a `rate(1 minute)` schedule, so
every minute they all come due at the same second (the scheduler's grid starts
at the deploy). Each handler appends the tick's due time (the Scheduled
Event's `time`, whole seconds) and the moment it ran. Lateness is the moment it
ran minus the due time: the scheduler's wake-up, the durable asynchronous
queue, and the instance (a cold start on the first tick).

The baseline is the lateness of a plain `asyncio.sleep` timer in this
benchmark's own process over the same minutes, which shows how late this
machine wakes anything up.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import APPS, print_table, squall_server, summarize, write_results

NAME = "schedule_accuracy"
FUNCTIONS = 20
MINUTES = 3
QUICK_MINUTES = 1


def write_app(folder: Path, out: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text((APPS / "schedule" / "app.py").read_text())
    lines = ["service: bench-schedule", "functions:"]
    for index in range(FUNCTIONS):
        lines += [
            f"  tick{index}:",
            "    handler: app.tick",
            f"    environment: {{OUT: {str(out)!r}}}",
            "    events:",
            '      - schedule: {expression: "rate(1 minute)"}',
        ]
    (folder / "squall.yml").write_text("\n".join(lines) + "\n")
    return folder


async def timer_lateness(duration_s: float) -> list[float]:
    """Sleep until each whole second and note how late the wake-up was, in milliseconds."""
    lateness = []
    end = time.time() + duration_s
    while time.time() < end:
        due = int(time.time()) + 1
        await asyncio.sleep(max(0.0, due - time.time()))
        lateness.append((time.time() - due) * 1000)
    return lateness


def read_ticks(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def run(quick: bool = False) -> None:
    minutes = QUICK_MINUTES if quick else MINUTES
    with tempfile.TemporaryDirectory(prefix="squall-bench-schedule-") as scratch:
        root = Path(scratch)
        out = root / "ticks.jsonl"
        app = write_app(root / "app", out)
        with squall_server(app, root / "data"):
            # The first tick is one minute after the deploy; wait for `minutes` ticks and a little more.
            baseline = asyncio.run(timer_lateness(minutes * 60 + 10))
        ticks = read_ticks(out)

    lateness = []
    for tick in ticks:
        due = datetime.datetime.strptime(tick["due"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        lateness.append((tick["ran"] - due.timestamp()) * 1000)
    first_minute = min((tick["due"] for tick in ticks), default=None)
    cold = [value for tick, value in zip(ticks, lateness) if tick["due"] == first_minute]
    warm = [value for tick, value in zip(ticks, lateness) if tick["due"] != first_minute]
    results = {
        "functions": FUNCTIONS,
        "minutes": minutes,
        "ticks_expected": FUNCTIONS * minutes,
        "ticks_delivered": len(ticks),
        "lateness_ms": {"all": summarize(lateness), "first_tick": summarize(cold), "later_ticks": summarize(warm)},
        "baseline_timer_lateness_ms": summarize(baseline),
    }
    path = write_results(NAME, results)
    rows = [
        [label, stats["n"], stats["p50"], stats["p99"], stats["max"]]
        for label, stats in (
            ("all ticks", results["lateness_ms"]["all"]),
            ("first tick (cold instances)", results["lateness_ms"]["first_tick"]),
            ("later ticks", results["lateness_ms"]["later_ticks"]),
            ("baseline: asyncio.sleep timer", results["baseline_timer_lateness_ms"]),
        )
    ]
    print_table(
        f"Schedule lateness, ms ({len(ticks)} of {FUNCTIONS * minutes} ticks delivered)",
        ["", "n", "p50", "p99", "max"],
        rows,
    )
    print(f"results: {path}")
