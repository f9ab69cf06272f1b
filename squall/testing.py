"""Helpers for tests and benchmarks that run a real `squall up` process."""

from __future__ import annotations

import re
import subprocess
import threading

SERVING_LINE = re.compile(r"serving .*on (http://\S+)")


def wait_until_serving(process: subprocess.Popen[str], timeout_s: float) -> tuple[str, list[str]]:
    """Read `process`'s output until its `serving ... on URL` line; return the URL and every line read.

    A thread reads the output until it ends, so the server does not block on a
    full pipe and the returned list keeps growing. Waiting on the pipe with
    select() would miss a line that readline() has already buffered. When no
    such line comes in time, the process is killed and RuntimeError is raised
    with its output.
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
            serving = SERVING_LINE.search(line)
            if serving and not found:
                found.append(serving.group(1))
                ready.set()
        ready.set()  # The output ended: wake the caller even without a serving line.

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
