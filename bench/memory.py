"""Memory: PSS, RSS and USS of idle warm instances, of their zygote, and of a plain `python` process.

Squall serves bench/apps/memory (one function, `idle`). One GET makes one
warm instance; then ten concurrent GETs that each sleep in the handler make
the pool start nine more. After each step, once the management API lists
every instance as idle, the benchmark reads /proc/PID/smaps_rollup of each
instance (children of the zygote, which is a child of the server) and of
the zygote.

PSS splits each shared page between the processes that map it, so an
instance's PSS falls as more forks share the zygote's pages. USS (private
pages only) is what one more instance adds. The baseline is the same
handler in a plain interpreter (`python -c "import app; app.handler(...)"`
kept alive on stdin), measured alongside. The zygote's spare fork, a child
that waits for its next instance assignment, is reported on its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import (
    APPS,
    Memory,
    ServerProcess,
    children_of,
    command_line,
    http_get,
    instance_counts,
    median,
    memory_of,
    print_table,
    squall_server,
    verdict,
    wait_for,
    write_results,
)

logger = logging.getLogger(__name__)

NAME = "memory"
GOAL_PSS_MB = 6.0
FUNCTION = "idle"
REQUEST_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 30.0
BUSY_MS = 500  # long enough that ten concurrent calls overlap and need ten instances
BASELINE_CODE = (
    "import sys, app; app.handler({}, None); print('ready', flush=True); sys.stdin.read()"
)


def zygote_and_children(server: ServerProcess) -> tuple[int, list[int], list[int]]:
    """Return the pid of the function's zygote, of its instances, and of its other forks (the spare)."""
    zygotes = [pid for pid in children_of(server.pid) if "squall.runtime.zygote" in command_line(pid)]
    if len(zygotes) != 1:
        raise RuntimeError(f"expected one zygote under server {server.pid}, found {zygotes}")
    instances, others = [], []
    for pid in children_of(zygotes[0]):
        # An instance writes its output to a memfd the server reads; the
        # zygote's spare fork still has the zygote's stdout until it is assigned.
        (instances if _stdout_target(pid).startswith("/memfd:") else others).append(pid)
    return zygotes[0], instances, others


def _stdout_target(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        return ""


def measure(server: ServerProcess, expected: int) -> dict[str, Any]:
    """Wait until `expected` instances are idle, then read their memory and the zygote's."""
    wait_for(lambda: instance_counts(server, FUNCTION) == (expected, 0), SETTLE_TIMEOUT_S,
             f"{expected} idle instances of {FUNCTION}")
    # An idle function also keeps one spare fork; the zygote forks it shortly
    # after a cold start, and the pages it shares lower everyone's PSS.
    wait_for(lambda: len(zygote_and_children(server)[2]) >= 1, SETTLE_TIMEOUT_S, f"the spare fork of {FUNCTION}")
    zygote, instances, spares = zygote_and_children(server)
    if len(instances) != expected:
        raise RuntimeError(f"expected {expected} instance processes under zygote {zygote}, found {instances}")
    readings = [memory_of(pid) for pid in instances]
    return {
        "instances": expected,
        "instance_median_mb": {
            f"{kind}_mb": median([getattr(m, f"{kind}_kb") for m in readings]) / 1024 for kind in ("pss", "rss", "uss")
        },
        "instance_readings_kb": [asdict(m) for m in readings],
        "zygote_kb": asdict(memory_of(zygote)),
        "spares_kb": [asdict(memory_of(pid)) for pid in spares],
        "server_kb": asdict(memory_of(server.pid)),
    }


async def call_concurrently(server: ServerProcess, count: int, path: str) -> list[int]:
    answers = await asyncio.gather(
        *(http_get(server.host, server.port, path, REQUEST_TIMEOUT_S) for _ in range(count))
    )
    return [a.status for a in answers]


def measure_baseline(folder: Path) -> Memory:
    """Start the handler in a plain interpreter, read its memory, and stop it."""
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE_CODE], cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError("the baseline interpreter did not start")
        return memory_of(process.pid)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(quick: bool = False) -> dict[str, Any]:
    folder = APPS / "memory"
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="squall-bench-memory-") as scratch:
        with squall_server(folder, Path(scratch) / "data") as server:
            statuses = asyncio.run(call_concurrently(server, 1, "/idle"))
            steps.append(measure(server, 1) | {"statuses": statuses})
            statuses = asyncio.run(call_concurrently(server, 10, f"/idle?sleep_ms={BUSY_MS}"))
            steps.append(measure(server, 10) | {"statuses": statuses})
        baseline = measure_baseline(folder)

    failed = [s for step in steps for s in step["statuses"] if s != 200]
    results = {
        "method": "smaps_rollup of idle warm instances after 1 call, then after 10 concurrent calls",
        "baseline": f"python -c {BASELINE_CODE!r}",
        "goals": {"instance_pss_mb": GOAL_PSS_MB},
        "steps": steps,
        "baseline_kb": asdict(baseline),
        "failed_requests": len(failed),
    }
    path = write_results(NAME, results)

    rows = []
    for step in steps:
        instance, zygote = step["instance_median_mb"], step["zygote_kb"]
        rows.append([
            step["instances"], instance["pss_mb"], verdict(instance["pss_mb"], GOAL_PSS_MB), instance["rss_mb"],
            instance["uss_mb"], zygote["pss_kb"] / 1024, zygote["rss_kb"] / 1024,
            sum(spare["pss_kb"] for spare in step["spares_kb"]) / 1024,
        ])
    print_table(
        "memory of idle warm instances, MB (medians over instances)",
        ["instances", "instance PSS", "", "instance RSS", "instance USS", "zygote PSS", "zygote RSS", "spare PSS"],
        rows,
    )
    print(f"goal: instance PSS <= {GOAL_PSS_MB:g} MB; a plain python process with the handler imported: "
          f"PSS {baseline.pss_kb / 1024:.1f} MB, RSS {baseline.rss_kb / 1024:.1f} MB, USS {baseline.uss_kb / 1024:.1f} MB")
    if failed:
        print(f"{len(failed)} requests failed: statuses {failed}")
    print(f"results: {path}")
    return results
