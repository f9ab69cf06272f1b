"""Queue-triggered throughput and latency: a Squall queue trigger against a Celery worker on Redis.

Squall serves bench/apps/queue_noop: one function consuming one queue with
the trigger's default of five concurrent batches of up to ten messages. The
baseline is a Celery worker (bench/apps/celery_noop.py) with five prefork
processes on a Redis broker, without a result backend. Both handlers do the
same work per message: parse its send time and append "DELAY_S HANDLED_AT"
to a file named in the message, so the benchmark learns when each message
was handled without asking either system.

Each round, alternating which system goes first, measures:

- throughput: MESSAGES messages enqueued as fast as SENDER_THREADS threads
  can (Squall: `Queue.send_batch` of ten through the SDK; Celery:
  `record.delay` per message), timed from the first enqueue to the latest
  HANDLED_AT in the file;
- latency: LATENCY_MESSAGES messages, one at a time at LATENCY_RATE_PER_S
  (Squall: `Queue.send`), each carrying its send time. The handler subtracts
  it from its own time.time(), and both clocks are this machine's.

Redis and Squall listen on 127.0.0.1 on ports the kernel picked, and the
Celery worker only connects to that Redis. Each is stopped by its pid at the
end.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.common import (
    APPS,
    REPO,
    SERVER_START_TIMEOUT_S,
    ServerProcess,
    children_of,
    command_line,
    cpu_seconds,
    management,
    median,
    print_table,
    squall_server,
    summarize,
    verdict,
    wait_for,
    write_results,
)

logger = logging.getLogger(__name__)

NAME = "queue_throughput"
FUNCTION = "consume"
QUEUE = "bench-noop"
MESSAGES = 5_000
SEND_BATCH = 10  # SQS's and Squall's maximum per send_batch
SENDER_THREADS = 4
# Squall's queue trigger runs five pollers by default, so at most five
# batches run at once; the Celery worker gets as many processes.
CONCURRENCY = 5
LATENCY_MESSAGES = 200
LATENCY_RATE_PER_S = 50.0
WARMUP_MESSAGES = 50
ROUNDS = 3
GOAL_RATIO = 1.5
DRAIN_TIMEOUT_S = 90.0
POLL_INTERVAL_S = 0.05
REDIS_READY = re.compile(r"Ready to accept connections")


# Processes


def free_port() -> int:
    """Return a port the kernel picked on 127.0.0.1.

    Redis rejects `--port 0`, so the port comes from binding a socket and
    closing it. Another process could take it in between, and start-up would
    then fail with redis-server's own message.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_until_line(command: Sequence[str], ready: re.Pattern[str], endpoint: str,
                     environment: dict[str, str] | None = None) -> ServerProcess:
    """Start `command` and wait for a line of its output that matches `ready`.

    When no such line comes within SERVER_START_TIMEOUT_S, the process is
    killed and RuntimeError is raised with the end of its output.
    """
    process = subprocess.Popen(
        list(command), cwd=REPO, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        if process.stdout is None:
            raise RuntimeError(f"{command[0]} was started without a stdout pipe")
        for line in process.stdout:
            lines.append(line)
            if ready.search(line):
                found.set()
        found.set()  # The output ended, so wake the caller, which then finds that the process exited.

    threading.Thread(target=read, daemon=True).start()
    found.wait(SERVER_START_TIMEOUT_S)
    if process.poll() is not None or not any(ready.search(line) for line in lines):
        if process.poll() is None:
            process.kill()
        process.wait()
        output = "".join(lines[-30:])
        raise RuntimeError(f"{command[0]} did not print a line matching {ready.pattern!r} "
                           f"within {SERVER_START_TIMEOUT_S:g} s (exit status {process.returncode}); output:\n{output}")
    return ServerProcess(process, endpoint, lines)


@contextmanager
def redis_server(scratch: Path) -> Iterator[ServerProcess]:
    """Run a throw-away redis-server on 127.0.0.1 for the length of the block, without persistence."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not on PATH; install it (Debian: apt-get install redis-server)")
    port = free_port()
    server = start_until_line(
        [executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(scratch)],
        REDIS_READY, f"redis://127.0.0.1:{port}/0",
    )
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def celery_worker(broker_url: str) -> Iterator[ServerProcess]:
    """Run `celery worker` for bench/apps/celery_noop.py with CONCURRENCY prefork processes."""
    from bench.apps.celery_noop import BROKER_ENVIRONMENT_VARIABLE, READY_LINE

    environment = {**os.environ, BROKER_ENVIRONMENT_VARIABLE: broker_url}
    worker = start_until_line(
        [sys.executable, "-m", "celery", "-A", "bench.apps.celery_noop", "worker", "--pool", "prefork",
         "--concurrency", str(CONCURRENCY), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        re.compile(re.escape(READY_LINE)), broker_url, environment,
    )
    pool = {pid: command_line(pid) for pid in children_of(worker.pid)}
    try:
        yield worker
    finally:
        # SIGTERM is Celery's warm shutdown: the main process stops its pool.
        worker.stop()
        for pid, command in pool.items():
            _kill_if_left(pid, command)


def _kill_if_left(pid: int, command: str) -> None:
    """Kill a pool process that outlived its worker, unless its pid now belongs to another program."""
    if not command or command_line(pid) != command:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    logger.warning("Celery pool process %d outlived its worker; killed it", pid)


# The two systems under test


class System(Protocol):
    """A queue and its consumer: `send` enqueues `count` messages that ask the handler to write to `out`."""

    name: str

    def send(self, out: Path, count: int) -> None: ...

    def pending(self) -> int: ...

    def server_pids(self) -> list[int]: ...


def message_body(out: Path) -> str:
    return json.dumps({"sent": time.time(), "out": str(out)})


class SquallQueue:
    """Squall's queue `bench-noop`, read by the function `consume`."""

    name = "squall"

    def __init__(self, server: ServerProcess) -> None:
        from squall.sdk import Client
        from squall.sdk.queues import Queue

        self.server = server
        self.queue = Queue(QUEUE, Client(server.endpoint))

    def send(self, out: Path, count: int) -> None:
        if count == 1:
            self.queue.send(message_body(out))
            return
        answer = self.queue.send_batch([message_body(out) for _ in range(count)])
        if answer.get("failed"):
            raise RuntimeError(f"send_batch to queue {QUEUE} failed for entries {answer['failed']!r}")

    def pending(self) -> int:
        stats = self.queue.info()["stats"]
        return int(stats["visible"]) + int(stats["in_flight"]) + int(stats["delayed"])

    def server_pids(self) -> list[int]:
        return [self.server.pid]

    def invocations_since(self, since: float) -> dict[str, int]:
        """Return the invocations and errors of `consume` recorded since `since`, from the stats API."""
        for row in management(self.server, "GET", f"stats?since={since}")["functions"]:
            if row["name"] == FUNCTION:
                return {"invocations": row["invocations"], "errors": row["errors"]}
        return {"invocations": 0, "errors": 0}


class CeleryQueue:
    """Celery's default queue on Redis, read by the worker's task `bench.record`."""

    name = "celery"

    def __init__(self, redis_server: ServerProcess, worker: ServerProcess) -> None:
        import redis

        from bench.apps import celery_noop

        celery_noop.app.conf.broker_url = redis_server.endpoint
        self.task = celery_noop.record
        self.redis = redis.Redis.from_url(redis_server.endpoint)
        self.pids = [redis_server.pid, worker.pid]

    def send(self, out: Path, count: int) -> None:
        for _ in range(count):
            self.task.delay(time.time(), str(out))

    def pending(self) -> int:
        # Messages the worker has not fetched yet; prefetched ones are in its memory.
        return int(self.redis.llen("celery"))

    def server_pids(self) -> list[int]:
        return self.pids


# Measurements


def tree_cpu_seconds(roots: Sequence[int]) -> dict[int, float]:
    """Read the CPU time of each process in the trees under `roots` (Squall's instances are grandchildren)."""
    readings: dict[int, float] = {}
    pending = list(roots)
    while pending:
        pid = pending.pop()
        try:
            readings[pid] = cpu_seconds(pid)
        except OSError:
            continue  # the process exited while we looked
        pending.extend(children_of(pid))
    return readings


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """Sum the CPU time spent between two readings by the processes present in both."""
    return sum(after[pid] - before[pid] for pid in after if pid in before)


@dataclass(frozen=True)
class Handled:
    """The lines the handlers wrote: one delay and one handling time (epoch) per message, in seconds."""

    delays_s: tuple[float, ...]
    handled_at: tuple[float, ...]


def read_handled(out: Path) -> Handled:
    pairs = [line.split() for line in out.read_text().splitlines()]
    return Handled(tuple(float(delay) for delay, _ in pairs), tuple(float(at) for _, at in pairs))


def count_lines(out: Path) -> int:
    try:
        return out.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_handled(system: System, out: Path, expected: int) -> Handled:
    """Wait until the handlers have written `expected` lines to `out` and the queue is empty, then read them."""
    wait_for(lambda: count_lines(out) >= expected, DRAIN_TIMEOUT_S,
             f"{expected} messages handled by {system.name} (in {out})", POLL_INTERVAL_S)
    # Squall deletes a batch after its handler returns, so the queue empties just after the last line.
    wait_for(lambda: system.pending() == 0, DRAIN_TIMEOUT_S, f"an empty {system.name} queue", POLL_INTERVAL_S)
    return read_handled(out)


def measure_throughput(system: System, out: Path, count: int) -> dict[str, Any]:
    """Enqueue `count` messages from SENDER_THREADS threads at once, timed from the first enqueue to the last handler run."""
    chunks = [SEND_BATCH] * (count // SEND_BATCH) + ([count % SEND_BATCH] if count % SEND_BATCH else [])
    shares = [chunks[index::SENDER_THREADS] for index in range(SENDER_THREADS)]
    start = threading.Barrier(SENDER_THREADS + 1)
    errors: list[BaseException] = []

    def sender(share: list[int]) -> None:
        start.wait()
        try:
            for size in share:
                system.send(out, size)
        except Exception as error:  # noqa: BLE001 - reported after the join
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    servers_before = tree_cpu_seconds(system.server_pids())
    client_before = time.process_time()
    started_at = time.time()
    start.wait()
    for thread in threads:
        thread.join()
    enqueued_s = time.time() - started_at
    if errors:
        raise RuntimeError(f"enqueueing to {system.name} failed: {errors[0]!r}") from errors[0]

    client_cpu_s = time.process_time() - client_before

    handled = wait_for_handled(system, out, count)
    # Includes the few polls of wait_for_handled, a few ms of CPU against seconds.
    server_cpu_s = cpu_spent(servers_before, tree_cpu_seconds(system.server_pids()))
    wall_s = max(handled.handled_at) - started_at
    return {
        "messages": count,
        "handled": len(handled.handled_at),
        "enqueue_s": enqueued_s,
        "enqueue_per_s": count / enqueued_s,
        "wall_s": wall_s,
        "last_handled_after_enqueue_s": wall_s - enqueued_s,
        "messages_per_s": count / wall_s,
        "server_cpu_us_per_message": server_cpu_s / count * 1e6,
        "client_cpu_us_per_message": client_cpu_s / count * 1e6,
    }


def measure_latency(system: System, out: Path, count: int, rate_per_s: float) -> dict[str, Any]:
    """Send `count` single messages at `rate_per_s` and return the enqueue-to-handler delays in ms."""
    started = time.monotonic()
    for index in range(count):
        # Pacing against a fixed schedule keeps the rate steady whatever one send costs.
        pause = started + index / rate_per_s - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        system.send(out, 1)
    handled = wait_for_handled(system, out, count)
    return {"handled": len(handled.delays_s), **summarize([delay * 1000 for delay in handled.delays_s])}


def run_round(systems: Sequence[System], scratch: Path, round_index: int, messages: int,
              latency_messages: int) -> dict[str, Any]:
    """Measure throughput and then latency of each system, in the given order."""
    result: dict[str, Any] = {"order": [system.name for system in systems]}
    for phase in ("throughput", "latency"):
        for system in systems:
            out = scratch / f"{system.name}-{phase}-{round_index}.txt"
            since = time.time()
            if phase == "throughput":
                measured = measure_throughput(system, out, messages)
            else:
                measured = measure_latency(system, out, latency_messages, LATENCY_RATE_PER_S)
            if isinstance(system, SquallQueue):
                # 500 invocations for 5,000 messages means every batch was full.
                measured["squall_stats"] = system.invocations_since(since)
            result.setdefault(system.name, {})[phase] = measured
    return result


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 1 if quick else ROUNDS
    messages = 500 if quick else MESSAGES
    latency_messages = 50 if quick else LATENCY_MESSAGES
    round_results: list[dict[str, Any]] = []

    with tempfile.TemporaryDirectory(prefix="squall-bench-queue-") as scratch_name:
        scratch = Path(scratch_name)
        with (
            redis_server(scratch) as redis,
            celery_worker(redis.endpoint) as worker,
            squall_server(APPS / "queue_noop", scratch / "data") as server,
        ):
            squall = SquallQueue(server)
            celery = CeleryQueue(redis, worker)
            # Start every instance and worker process, and each client's connections, before timing.
            for system in (squall, celery):
                measure_throughput(system, scratch / f"{system.name}-warmup.txt", WARMUP_MESSAGES)

            for round_index in range(rounds):
                order: list[System] = [squall, celery] if round_index % 2 == 0 else [celery, squall]
                round_results.append(run_round(order, scratch, round_index, messages, latency_messages))

    return report(round_results, rounds, messages, latency_messages)


def report(round_results: list[dict[str, Any]], rounds: int, messages: int, latency_messages: int) -> dict[str, Any]:
    """Summarize the rounds, write the results file and print the tables."""
    summary: dict[str, Any] = {}
    for name in ("squall", "celery"):
        throughput = [r[name]["throughput"] for r in round_results]
        latency = [r[name]["latency"] for r in round_results]
        summary[name] = {
            "messages_per_s": median([t["messages_per_s"] for t in throughput]),
            "enqueue_per_s": median([t["enqueue_per_s"] for t in throughput]),
            "last_handled_after_enqueue_s": median([t["last_handled_after_enqueue_s"] for t in throughput]),
            "server_cpu_us_per_message": median([t["server_cpu_us_per_message"] for t in throughput]),
            "client_cpu_us_per_message": median([t["client_cpu_us_per_message"] for t in throughput]),
            "latency_p50_ms": median([lat["p50"] for lat in latency]),
            "latency_p99_ms": median([lat["p99"] for lat in latency]),
            "latency_max_ms": max(lat["max"] for lat in latency),
        }
    ratios = [r["squall"]["throughput"]["messages_per_s"] / r["celery"]["throughput"]["messages_per_s"]
              for r in round_results]
    summary["throughput_ratio"] = median(ratios)
    summary["throughput_ratio_per_round"] = ratios
    summary["latency_p50_ratio"] = summary["squall"]["latency_p50_ms"] / summary["celery"]["latency_p50_ms"]
    summary["latency_p99_ratio"] = summary["squall"]["latency_p99_ms"] / summary["celery"]["latency_p99_ms"]
    results = {
        "method": (
            f"{messages} messages enqueued from {SENDER_THREADS} threads (Squall send_batch of {SEND_BATCH}, "
            f"Celery delay per message), first enqueue to last handler run; {latency_messages} single messages "
            f"at {LATENCY_RATE_PER_S:g}/s for latency; concurrency {CONCURRENCY} on both; {rounds} rounds, "
            "alternating which system goes first"
        ),
        "goals": {"throughput_ratio": GOAL_RATIO},
        "summary": summary,
        "rounds": round_results,
    }
    path = write_results(NAME, results)

    rows = []
    for index, result in enumerate(round_results):
        for name in ("squall", "celery"):
            throughput, latency = result[name]["throughput"], result[name]["latency"]
            rows.append([
                index + 1, name, throughput["messages_per_s"], throughput["enqueue_per_s"], throughput["wall_s"],
                throughput["last_handled_after_enqueue_s"], throughput["server_cpu_us_per_message"],
                throughput["client_cpu_us_per_message"], latency["p50"], latency["p99"], latency["max"],
            ])
    print_table(
        f"{messages} messages as fast as possible; {latency_messages} at {LATENCY_RATE_PER_S:g}/s "
        "(latency in ms, CPU in µs per message)",
        ["round", "system", "msg/s", "enqueue/s", "wall s", "drain s", "server CPU", "client CPU",
         "p50", "p99", "max"],
        rows,
    )
    ratio = summary["throughput_ratio"]
    print(f"throughput Squall/Celery: {ratio:.2f} (goal >= {GOAL_RATIO:g}: "
          f"{verdict(ratio, GOAL_RATIO, lower_is_better=False)}); latency p50 ratio "
          f"{summary['latency_p50_ratio']:.2f}, p99 ratio {summary['latency_p99_ratio']:.2f}")
    print(f"results: {path}")
    return results
