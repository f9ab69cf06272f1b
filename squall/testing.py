"""Helpers for tests and benchmarks that run a real `squall up` process."""

from __future__ import annotations

import re
import subprocess
import threading

SERVING_LINE = re.compile(r"serving .*on (http://\S+)")


def wait_until_serving(process: subprocess.Popen[str], timeout_s: float) -> tuple[str, list[str]]:
    """Read `process`'s output until its `serving ... on URL` line; return the URL and every line read.

    One thread reads the whole output, from the first line to the last, so the
    server never blocks on a full pipe and the returned list keeps growing.
    (Waiting on the pipe with select() would miss a line that readline() has
    already buffered.) The process is killed, and RuntimeError raised with its
    output, when no such line comes in time.
    """
    if process.stdout is None:
        raise RuntimeError("the process was started without a stdout pipe")
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = SERVING_LINE.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()  # the output ended: no serving line will come

    threading.Thread(target=read, daemon=True).start()
    ready.wait(timeout_s)
    if found:
        return found[0], lines

    if process.poll() is None:
        process.kill()
        process.wait()
        reason = f"no server was serving within {timeout_s:.0f} s"
    else:
        reason = f"the server exited with code {process.returncode} before serving"
    raise RuntimeError(f"{reason}; its output:\n" + "".join(lines))
