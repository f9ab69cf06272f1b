"""A server that starts kills what a killed server left in its cgroups, then removes them."""

from __future__ import annotations

import subprocess
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
