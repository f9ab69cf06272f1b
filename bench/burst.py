"""Burst: 200 concurrent requests on a cold function capped at 20 instances.

Squall serves bench/apps/burst (`reserved_concurrency: 20`). Each round
redeploys the folder, so the function starts with no instance, then opens
BURST connections at once and sends one GET on each. It counts responses by
status (a lost request, one without a response, counts as status 0), and reads
how many cold starts the round caused from `GET /_squall/api/stats`.

The baseline is the same burst again right after, on the instances the cold
burst left warm.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    APPS,
    ServerProcess,
    http_get,
    instance_counts,
    management,
    median,
    print_table,
    squall_server,
    summarize,
    wait_for,
    write_results,
)

logger = logging.getLogger(__name__)

NAME = "burst"
FUNCTION = "burst"
BURST = 200
RESERVED_CONCURRENCY = 20
REQUEST_TIMEOUT_S = 30.0
STATS_TIMEOUT_S = 20.0


async def send_burst(server: ServerProcess, count: int) -> dict[str, Any]:
    """Send `count` GETs at once and return statuses, latencies and the wall time of the burst."""
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(http_get(server.host, server.port, "/burst", REQUEST_TIMEOUT_S) for _ in range(count))
    )
    wall_s = time.perf_counter() - started
    statuses = collections.Counter(a.status for a in answers)
    errors = [a.error for a in answers if a.error]
    return {
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "latency_ms": summarize([a.elapsed_s * 1000 for a in answers]),
        "wall_ms": wall_s * 1000,
        "client_errors": errors[:5],
    }


def cold_starts_since(server: ServerProcess, since: float, expected: int) -> dict[str, int]:
    """Return invocations, throttles and cold starts of the function since `since`, once `expected` are recorded."""

    def read() -> dict[str, int] | None:
        for row in management(server, "GET", f"stats?since={since}")["functions"]:
            if row["name"] == FUNCTION and row["invocations"] + row["throttles"] >= expected:
                return {key: row[key] for key in ("invocations", "throttles", "errors", "cold_starts")}
        return None

    try:
        return wait_for(read, STATS_TIMEOUT_S, f"{expected} records of {FUNCTION}", interval_s=0.1)
    except TimeoutError as error:
        logger.warning("%s", error)
        return {"invocations": -1, "throttles": -1, "errors": -1, "cold_starts": -1}


def run_round(server: ServerProcess, count: int) -> dict[str, Any]:
    """Send a cold burst and then a warm one, and return both with their stats."""
    result: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        since = time.time()
        burst = asyncio.run(send_burst(server, count))
        burst["stats"] = cold_starts_since(server, since, count)
        idle, busy = instance_counts(server, FUNCTION)
        burst["instances_after"] = idle + busy
        result[phase] = burst
    return result


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 1 if quick else 3
    round_results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="squall-bench-burst-") as scratch:
        # A copy, so that each round can change a file of it.
        folder = Path(scratch) / "burst"
        shutil.copytree(APPS / "burst", folder)
        with squall_server(folder, Path(scratch) / "data") as server:
            for round_index in range(rounds):
                if round_index:
                    # A redeploy of changed code gives the function a new pool with no
                    # instance: cold again. An unchanged folder would keep the instances.
                    (folder / "round.txt").write_text(f"{round_index}\n")
                    management(server, "POST", "deploy", {"folder": str(folder)})
                    wait_for(lambda: instance_counts(server, FUNCTION) == (0, 0), STATS_TIMEOUT_S, "an empty pool")
                round_results.append(run_round(server, BURST))

    summary: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        phases = [r[phase] for r in round_results]
        ok = [p["statuses"].get("200", 0) for p in phases]
        summary[phase] = {
            "all_200_in_every_round": all(n == BURST for n in ok),
            "ok_per_round": ok,
            "p50_ms": median([p["latency_ms"]["p50"] for p in phases]),
            "p99_ms": median([p["latency_ms"]["p99"] for p in phases]),
            "max_ms": max(p["latency_ms"]["max"] for p in phases),
            "wall_ms": median([p["wall_ms"] for p in phases]),
            "cold_starts_per_round": [p["stats"]["cold_starts"] for p in phases],
            "instances_after_per_round": [p["instances_after"] for p in phases],
        }
    summary["ratio_p50"] = summary["cold"]["p50_ms"] / summary["warm"]["p50_ms"]
    summary["ratio_p99"] = summary["cold"]["p99_ms"] / summary["warm"]["p99_ms"]
    results = {
        "method": (
            f"{BURST} GETs at once on new connections, reserved_concurrency {RESERVED_CONCURRENCY}; "
            f"{rounds} rounds, redeploying between rounds; cold burst then warm burst"
        ),
        "goals": {"status_200": BURST, "max_instances": RESERVED_CONCURRENCY},
        "summary": summary,
        "rounds": round_results,
    }
    path = write_results(NAME, results)

    rows = []
    for index, result in enumerate(round_results):
        for phase in ("cold", "warm"):
            burst = result[phase]
            statuses = " ".join(f"{s}:{n}" for s, n in burst["statuses"].items())
            rows.append([
                index + 1, phase, statuses, burst["latency_ms"]["p50"], burst["latency_ms"]["p99"],
                burst["latency_ms"]["max"], burst["wall_ms"], burst["stats"]["cold_starts"],
                burst["stats"]["throttles"], burst["instances_after"],
            ])
    print_table(
        f"burst of {BURST} on reserved_concurrency {RESERVED_CONCURRENCY} (latency in ms)",
        ["round", "phase", "statuses", "p50", "p99", "max", "wall", "cold starts", "throttles", "instances"],
        rows,
    )
    print(f"goal: all {BURST} answered 200 with at most {RESERVED_CONCURRENCY} instances; "
          f"cold/warm p50 {summary['ratio_p50']:.2f}, p99 {summary['ratio_p99']:.2f}")
    print(f"results: {path}")
    return results
