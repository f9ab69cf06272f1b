"""Helpers for tests and benchmarks that run a real `squall up` process."""

from __future__ import annotations

import re
import selectors
import subprocess
import threading
import time

SERVING_LINE = re.compile(r"serving .*on (http://\S+)")


def wait_until_serving(process: subprocess.Popen[str], timeout_s: float) -> tuple[str, list[str]]:
    """Read `process`'s output until its `serving ... on URL` line; return the URL and every line read.

    The returned list keeps growing: a thread goes on reading the output, so
    the server never blocks on a full pipe. The process is killed, and
    RuntimeError raised with its output, when no such line comes in time.
    """
    if process.stdout is None:
        raise RuntimeError("the process was started without a stdout pipe")
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = SERVING_LINE.search(line)
            if found:
                threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
                return found.group(1), lines

    process.kill()
    process.wait()
    raise RuntimeError(f"no server was serving within {timeout_s:.0f} s; its output:\n" + "".join(lines))


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    if process.stdout is not None:
        for line in process.stdout:
            lines.append(line)
