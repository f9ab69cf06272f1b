"""A server that starts kills what a killed server left in its cgroups, then removes them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from squall.dispatcher import limits
from squall.dispatcher.limits import MemoryCgroups


def dead_pid() -> int:
    """Return the id of a process that has exited, as a server killed with SIGKILL has."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_stale_cgroup_process_killed() -> None:
    cgroups = MemoryCgroups()
    if not cgroups.available or cgroups.parent is None:
        pytest.skip("no writable memory cgroup")
    base = cgroups.parent.parent
    cgroups.close()
    stale = base / f"squall-{dead_pid()}"
    instance = stale / "instance"
    instance.mkdir(parents=True)
    # A process a handler started in a new session, which outlived its server.
    leftover = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (instance / "cgroup.procs").write_text(str(leftover.pid))

        limits._remove_stale(base)

        assert leftover.wait(timeout=10) == -9
        assert not Path(stale).exists()
    finally:
        leftover.kill()
        leftover.wait()
        for folder in (instance, stale):
            if folder.exists():
                folder.rmdir()


def test_zombie_server_counts_as_stopped() -> None:
    # A server killed with SIGKILL stays a zombie until its parent reaps it.
    process = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)

        assert not limits._running(process.pid)
        assert limits._running(os.getpid())
    finally:
        process.wait()
