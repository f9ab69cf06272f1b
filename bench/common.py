"""Helpers shared by the benchmarks: servers, a small HTTP client, /proc readers, statistics, output.

Every server started here listens on 127.0.0.1 on a port the kernel picks,
and every request goes there.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from squall.testing import wait_until_serving

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
APPS = Path(__file__).resolve().parent / "apps"
RESULTS = Path(__file__).resolve().parent / "results"
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 30.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


# Servers


@dataclass(frozen=True)
class ServerProcess:
    """A server started by a benchmark: its process, its address and its output so far."""

    process: subprocess.Popen[str]
    endpoint: str
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def host(self) -> str:
        return self.endpoint.split("//", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def stop(self) -> int:
        """Stop the server with SIGTERM, then SIGKILL if it has not exited in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                logger.warning("server %d ignored SIGTERM for %.0f s; killing it", self.pid, SERVER_STOP_TIMEOUT_S)
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(command: Sequence[str], cwd: Path = REPO) -> ServerProcess:
    """Start `command` and wait for its `serving ... on http://HOST:PORT` line."""
    process = subprocess.Popen(
        list(command), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    endpoint, lines = wait_until_serving(process, SERVER_START_TIMEOUT_S)
    return ServerProcess(process, endpoint, lines)


@contextmanager
def squall_server(folder: Path, data: Path) -> Iterator[ServerProcess]:
    """Run `squall up FOLDER --port 0` for the length of the block."""
    # No watching: benchmarks change files of the folder and deploy them themselves.
    server = start_server([sys.executable, "-m", "squall", "up", str(folder), "--port", "0", "--data", str(data), "--no-watch"])
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def bare_server() -> Iterator[ServerProcess]:
    """Run the hello-world ASGI baseline for the length of the block."""
    server = start_server([sys.executable, "-m", "bench.apps.bare_asgi"])
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def floor_server() -> Iterator[ServerProcess]:
    """Run the one-round-trip floor (bench/apps/ipc_floor.py) for the length of the block."""
    server = start_server([sys.executable, "-m", "bench.apps.ipc_floor"])
    try:
        yield server
    finally:
        server.stop()


# Management API (not timed)


def management(server: ServerProcess, method: str, path: str, body: Any = None, timeout_s: float = 120.0) -> Any:
    """Call `/_squall/api/PATH` and return its JSON, raising on an error status."""
    with httpx.Client(base_url=server.endpoint, timeout=timeout_s) as client:
        answer = client.request(method, f"/_squall/api/{path}", json=body)
    answer.raise_for_status()
    return answer.json()


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """Poll `predicate()` until it returns something truthy; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def instance_counts(server: ServerProcess, function: str) -> tuple[int, int]:
    """Return (idle, busy) instances of `function` as the management API lists them."""
    for item in management(server, "GET", "functions")["functions"]:
        if item["name"] == function:
            return item["instances"]["idle"], item["instances"]["busy"]
    raise KeyError(f"function {function!r} is not deployed")


# HTTP client


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP exchange as the client saw it. `status` is 0 when no response arrived."""

    status: int
    elapsed_s: float
    headers: dict[str, str]
    body: bytes
    error: str | None = None


async def http_get(host: str, port: int, path: str, timeout_s: float) -> HttpAnswer:
    """Send one GET on a new connection and read the whole response.

    A raw asyncio client, because an HTTP library's own work would show up
    in the latencies being measured. The clock runs from before connect to
    the last byte of the body.
    """
    started = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status, headers = _parse_head(head)
            if "content-length" in headers:
                body = await reader.readexactly(int(headers["content-length"]))
            else:
                body = await reader.read()
        return HttpAnswer(status, time.perf_counter() - started, headers, body)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        return HttpAnswer(0, time.perf_counter() - started, {}, b"", f"{type(error).__name__}: {error}")
    finally:
        if writer is not None:
            writer.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


# /proc readers


def cpu_seconds(pid: int) -> float:
    """Return user plus system CPU time of a process, all its threads included."""
    with open(f"/proc/{pid}/stat") as file:
        stat = file.read()
    # The command name may contain spaces and parentheses, so split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS_PER_S


@dataclass(frozen=True)
class Memory:
    """Memory of one process in KiB: resident, proportional and unique (private) set sizes."""

    rss_kb: int
    pss_kb: int
    uss_kb: int


def memory_of(pid: int) -> Memory:
    """Read a process's RSS, PSS and USS from /proc/PID/smaps_rollup."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as file:
        for line in file:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                values[parts[0][:-1]] = int(parts[1])
    return Memory(
        rss_kb=values["Rss"],
        pss_kb=values["Pss"],
        uss_kb=values.get("Private_Clean", 0) + values.get("Private_Dirty", 0),
    )


def children_of(pid: int) -> list[int]:
    """Return the pids whose parent is `pid`, found by scanning /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue  # the process exited while we looked
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid:
            children.append(int(entry))
    return sorted(children)


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# Statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Return count, min, p50, p90, p99 and max of `values`."""
    return {
        "n": len(values),
        "min": min(values) if values else float("nan"),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


# Output


def machine() -> dict[str, Any]:
    """Describe the machine a result was measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_1m": os.getloadavg()[0],
    }


def code_version() -> dict[str, Any]:
    """Return the git commit of the tree under test and whether it had uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "error": str(error)}
    return {"commit": commit.stdout.strip() or None, "uncommitted_changes": bool(status.stdout.strip())}


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write a benchmark's results, with the date and the machine, to bench/results/NAME-DATE.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    document = {
        "benchmark": name, "date": now.isoformat(timespec="seconds"), "machine": machine(), "code": code_version(),
        **results,
    }
    path = RESULTS / f"{name}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain-text table with right-aligned columns."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def verdict(value: float, goal: float, lower_is_better: bool = True) -> str:
    """Return 'met' or 'MISSED' for a measured value against its goal."""
    met = value <= goal if lower_is_better else value >= goal
    return "met" if met else "MISSED"
