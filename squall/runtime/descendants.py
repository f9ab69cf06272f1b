"""The processes an instance started, found through /proc.

An instance is a child subreaper (see `squall/runtime/zygote.py`): a process
its handler started stays its descendant even after leaving the instance's
process group, in a new session or as a daemon, until the instance exits.
The zygote is one too, so when an instance dies by itself, what it leaves
becomes the zygote's, which kills it.
"""

from __future__ import annotations

import contextlib
import os
import signal

# Lambda's quota of processes and threads per instance bounds the walk.
MAX_DESCENDANTS = 1024


def children_of(pid: int) -> list[int]:
    """Return the ids of the living children of `pid`, of all its threads; none where /proc cannot tell."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                found += [int(child) for child in listing.read().split()]
        except (OSError, ValueError):
            continue
    return found


def descendants_of(pid: int) -> list[int]:
    """Return the ids of every living descendant of `pid`; none where /proc cannot tell."""
    found: list[int] = []
    pending = [pid]
    while pending and len(found) < MAX_DESCENDANTS:
        children = children_of(pending.pop())
        found += children
        pending += children
    return found


def kill_descendants(pid: int) -> None:
    """Kill every living descendant of `pid`."""
    kill_processes(descendants_of(pid))


def kill_processes(pids: list[int]) -> None:
    """Kill the processes that a walk of descendants found, skipping those already gone."""
    for pid in pids:
        # NOTE: a process that exited since the walk may have passed its id on, within milliseconds.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
