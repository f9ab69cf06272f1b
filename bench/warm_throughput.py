"""Warm throughput: a no-op function behind Squall against a bare ASGI app on the same HTTP server.

Three servers run side by side for the whole benchmark: Squall serving
bench/apps/noop; bench/apps/bare_asgi (uvicorn, httptools, uvloop, one
process), the goal's baseline; and bench/apps/ipc_floor, the same uvicorn
making one round trip to a worker process per request. The floor is the
minimal work per request of a server built as Squall is. For each round and
each concurrency level, `wrk` loads each server in turn (the order alternates between rounds), with
one wrk thread and a fixed duration. Around each wrk run the benchmark reads the server
process's utime+stime from /proc/PID/stat: the server process only, all its
threads included, and not the instance processes, whose CPU is the
handler's.

Before the rounds, a warm-up run at the highest concurrency starts the
instances that level needs, so no measured run includes a cold start.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    APPS,
    ServerProcess,
    bare_server,
    children_of,
    floor_server,
    cpu_seconds,
    median,
    print_table,
    squall_server,
    verdict,
    write_results,
)

logger = logging.getLogger(__name__)

NAME = "warm_throughput"
GOAL_RATIO = 0.4
GOAL_CPU_US = 150.0
WRK_TIMEOUT_S = 10  # per request: a slower response counts as a wrk timeout error
WRK_GRACE_S = 30.0  # on top of the duration, before the benchmark gives up on wrk

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s*(50|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkRun:
    """One wrk run against one server, with the server's CPU time over it."""

    target: str
    connections: int
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu_s: float
    instances_cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else float("nan")

    @property
    def instances_cpu_us_per_request(self) -> float:
        return self.instances_cpu_s / self.requests * 1e6 if self.requests else float("nan")


def parse_wrk(output: str) -> dict[str, Any]:
    """Read request count, duration, latency percentiles and errors from `wrk --latency` output."""
    total = _TOTAL.search(output)
    if total is None:
        raise ValueError(f"wrk output has no 'N requests in T' line:\n{output}")
    latencies = {int(m.group(1)): float(m.group(2)) * _UNITS_MS[m.group(3)] for m in _LATENCY.finditer(output)}
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    return {
        "requests": int(total.group(1)),
        "seconds": float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        "p50_ms": latencies.get(50, float("nan")),
        "p90_ms": latencies.get(90, float("nan")),
        "p99_ms": latencies.get(99, float("nan")),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def run_wrk(server: ServerProcess, path: str, target: str, connections: int, duration_s: int) -> WrkRun:
    """Load `server` with wrk for `duration_s` seconds and measure the server's CPU meanwhile."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", f"--timeout={WRK_TIMEOUT_S}s", "--latency",
        f"{server.endpoint}{path}",
    ]
    # The floor's workers are its children; Squall's instances are its zygotes' children.
    workers_cpu = children_cpu if target == "floor" else instances_cpu
    cpu_before = cpu_seconds(server.pid)
    instances_before = workers_cpu(server.pid)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + WRK_GRACE_S, check=True)
    cpu_after = cpu_seconds(server.pid)
    instances_after = workers_cpu(server.pid)
    parsed = parse_wrk(finished.stdout)
    return WrkRun(
        target=target,
        connections=connections,
        requests_per_s=parsed["requests"] / parsed["seconds"],
        server_cpu_s=cpu_after - cpu_before,
        # Instances that started or exited during the run are left out: warm-up started them all.
        instances_cpu_s=sum(instances_after[pid] - instances_before[pid] for pid in instances_after if pid in instances_before),
        **parsed,
    )


def children_cpu(server_pid: int) -> dict[int, float]:
    """Return the CPU seconds of every child of the server."""
    readings: dict[int, float] = {}
    for pid in children_of(server_pid):
        try:
            readings[pid] = cpu_seconds(pid)
        except OSError:
            continue  # exited while we looked
    return readings


def instances_cpu(server_pid: int) -> dict[int, float]:
    """Return the CPU seconds of every grandchild of the server (its instances, and the zygotes' spares)."""
    readings: dict[int, float] = {}
    for zygote in children_of(server_pid):
        readings.update(children_cpu(zygote))
    return readings


def run(quick: bool = False) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("warm_throughput needs wrk on PATH (Debian: apt-get install wrk)")
    levels = (1, 8) if quick else (1, 8, 32)
    duration_s = 1 if quick else 5
    rounds = 1 if quick else 3

    runs: list[WrkRun] = []
    with tempfile.TemporaryDirectory(prefix="squall-bench-warm-") as scratch:
        with squall_server(APPS / "noop", Path(scratch) / "data") as squall, bare_server() as bare, floor_server() as floor:
            targets = {"squall": (squall, "/noop"), "bare": (bare, "/"), "floor": (floor, "/")}
            for name, (server, path) in targets.items():
                run_wrk(server, path, name, max(levels), 2)
            for round_index in range(rounds):
                order = ("squall", "bare", "floor") if round_index % 2 == 0 else ("floor", "bare", "squall")
                for connections in levels:
                    for name in order:
                        server, path = targets[name]
                        runs.append(run_wrk(server, path, name, connections, duration_s))

    table: list[dict[str, Any]] = []
    for connections in levels:
        squall_runs = [r for r in runs if r.target == "squall" and r.connections == connections]
        bare_runs = [r for r in runs if r.target == "bare" and r.connections == connections]
        floor_runs = [r for r in runs if r.target == "floor" and r.connections == connections]
        # Ratios pair the runs of one round, which ran seconds apart on the same load.
        ratios = [s.requests_per_s / b.requests_per_s for s, b in zip(squall_runs, bare_runs)]
        floor_ratios = [f.requests_per_s / b.requests_per_s for f, b in zip(floor_runs, bare_runs)]
        table.append(
            {
                "connections": connections,
                "squall_rps": median([r.requests_per_s for r in squall_runs]),
                "bare_rps": median([r.requests_per_s for r in bare_runs]),
                "ratio": median(ratios),
                "floor_rps": median([r.requests_per_s for r in floor_runs]),
                "floor_ratio": median(floor_ratios),
                "floor_cpu_us_per_request": median([r.cpu_us_per_request for r in floor_runs]),
                "floor_workers_cpu_us_per_request": median([r.instances_cpu_us_per_request for r in floor_runs]),
                "squall_p50_ms": median([r.p50_ms for r in squall_runs]),
                "squall_p99_ms": median([r.p99_ms for r in squall_runs]),
                "bare_p50_ms": median([r.p50_ms for r in bare_runs]),
                "bare_p99_ms": median([r.p99_ms for r in bare_runs]),
                "squall_cpu_us_per_request": median([r.cpu_us_per_request for r in squall_runs]),
                "bare_cpu_us_per_request": median([r.cpu_us_per_request for r in bare_runs]),
                "instances_cpu_us_per_request": median([r.instances_cpu_us_per_request for r in squall_runs]),
                "errors": sum(r.non_2xx + r.socket_errors for r in squall_runs + bare_runs + floor_runs),
            }
        )

    results = {
        "method": (
            f"wrk -t1 -cN -d{duration_s}s --latency, levels {list(levels)}, {rounds} rounds alternating the order; "
            "server CPU from /proc/PID/stat utime+stime around each run"
        ),
        "goals": {"ratio": GOAL_RATIO, "server_cpu_us_per_request": GOAL_CPU_US},
        "levels": table,
        "runs": [
            asdict(r) | {"cpu_us_per_request": r.cpu_us_per_request,
                         "instances_cpu_us_per_request": r.instances_cpu_us_per_request}
            for r in runs
        ],
    }
    path = write_results(NAME, results)

    print_table(
        "warm throughput (medians over rounds; latency in ms, CPU in microseconds per request)",
        ["conns", "squall rps", "bare rps", "ratio", "", "squall p50", "squall p99", "bare p50", "bare p99",
         "squall CPU", "", "bare CPU", "instance CPU", "floor rps", "floor ratio", "floor CPU", "floor workers CPU", "errors"],
        [
            [
                row["connections"], row["squall_rps"], row["bare_rps"], row["ratio"],
                verdict(row["ratio"], GOAL_RATIO, lower_is_better=False),
                row["squall_p50_ms"], row["squall_p99_ms"], row["bare_p50_ms"], row["bare_p99_ms"],
                row["squall_cpu_us_per_request"], verdict(row["squall_cpu_us_per_request"], GOAL_CPU_US),
                row["bare_cpu_us_per_request"], row["instances_cpu_us_per_request"],
                row["floor_rps"], row["floor_ratio"], row["floor_cpu_us_per_request"],
                row["floor_workers_cpu_us_per_request"], row["errors"],
            ]
            for row in table
        ],
    )
    print(f"goals: ratio >= {GOAL_RATIO:g}, squall server CPU <= {GOAL_CPU_US:g} us per request")
    print(f"results: {path}")
    return results
