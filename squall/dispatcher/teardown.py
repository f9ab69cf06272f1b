"""The end of a forked process: the processes it started, its memory cgroup and its TMPDIR.

A handler may start processes of its own. Lambda freezes them with the
execution environment between invocations, so they run on while their
instance lives. When the instance ends they end with it: every process in
the instance's memory cgroup is killed or, without a cgroup, every process in
its process group (each spare leads a group of its own, see
`squall/runtime/zygote.py`) and every descendant of a living instance. The cgroup and the TMPDIR are removed once those
processes are gone.

The server learns that a process is gone from a pidfd, which works whether
or not the zygote that forked it is still running to report its exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable

from squall.dispatcher.limits import MemoryCgroups
from squall.runtime.descendants import descendants_of, kill_processes

logger = logging.getLogger(__name__)

# How long a killed process and the processes it started may take to leave
# their cgroup before the cgroup is left in place with a warning.
TEARDOWN_TIMEOUT_S = 5.0
_RETRY_INTERVAL_S = 0.02


@dataclass(frozen=True)
class Sandbox:
    """The host resources of one process that a zygote forked, first a spare, then an instance."""

    pid: int
    pidfd: int | None  # None where the kernel has no pidfd_open (Linux before 5.3)
    cgroup: str | None  # None where the memory limit is an rlimit
    tmp_dir: str


def open_pidfd(pid: int) -> int | None:
    """Return a pidfd for `pid`, or None where the kernel or Python has none."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


class Teardown:
    """Ends what finished spares and instances leave behind, and counts what is still to clean up.

    A stopping server calls `drain` to wait until every sandbox it handed out
    and every zygote it started are gone.
    """

    def __init__(self, cgroups: MemoryCgroups) -> None:
        self.cgroups = cgroups
        self._pending: set[Hashable] = set()
        self._empty = asyncio.Event()
        self._empty.set()
        self._tasks: set[asyncio.Task[None]] = set()

    # What is still to clean up

    def hold(self, owner: Hashable) -> None:
        """Count `owner` (a sandbox or a zygote) as still to clean up."""
        self._pending.add(owner)
        self._empty.clear()

    def done(self, owner: Hashable) -> None:
        """Count `owner` as cleaned up."""
        self._pending.discard(owner)
        if not self._pending:
            self._empty.set()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything held is cleaned up; return False if `timeout_s` passed first."""
        try:
            await asyncio.wait_for(self._empty.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # Killing

    def kill(self, sandbox: Sandbox) -> None:
        """Kill the sandbox's process and every process it started."""
        # Without a cgroup, processes that left the instance's group are found
        # through the instance while it lives: once it dies, they belong to init.
        descendants = descendants_of(sandbox.pid) if sandbox.cgroup is None else []
        try:
            if sandbox.pidfd is not None:
                signal.pidfd_send_signal(sandbox.pidfd, signal.SIGKILL)
            else:
                os.kill(sandbox.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError as error:
            logger.warning("cannot kill process %d: %s", sandbox.pid, error)
        kill_processes(descendants)
        self.kill_started(sandbox)

    def kill_descendants(self, sandbox: Sandbox) -> None:
        """Kill the processes a living instance started, where no cgroup contains them for `kill_started`."""
        if sandbox.cgroup is None:
            kill_processes(descendants_of(sandbox.pid))

    def kill_started(self, sandbox: Sandbox) -> None:
        """Kill the processes the sandbox's process started, which may outlive it."""
        if sandbox.cgroup is not None:
            self.cgroups.kill_all(sandbox.cgroup)
            return
        # NOTE: once every process of the group has exited, a new process may
        # reuse the group's id. The window is the time between the last exit
        # and this call, usually a few milliseconds.
        try:
            os.killpg(sandbox.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError as error:
            logger.warning("cannot kill process group %d: %s", sandbox.pid, error)

    # Releasing

    def release(self, sandbox: Sandbox) -> None:
        """Kill what is left of a finished sandbox, then remove its cgroup and TMPDIR in the background.

        The sandbox counts as held from here until its clean-up ends, also
        without an earlier call to `hold`.
        """
        self.hold(sandbox)
        task = asyncio.get_running_loop().create_task(self._release(sandbox))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, sandbox: Sandbox) -> None:
        deadline = time.monotonic() + TEARDOWN_TIMEOUT_S
        try:
            self.kill(sandbox)
            if not await _wait_gone(sandbox, deadline):
                logger.warning("process %d did not exit within %.0f s of SIGKILL", sandbox.pid, TEARDOWN_TIMEOUT_S)

            # Processes forked just before the kill may have escaped it.
            self.kill_started(sandbox)
            if not await self._remove_cgroup(sandbox.cgroup, deadline):
                logger.warning(
                    "memory cgroup %s still contains processes %.0f s after the kill; left in place",
                    sandbox.cgroup, TEARDOWN_TIMEOUT_S,
                )

            await asyncio.get_running_loop().run_in_executor(None, _remove_tree, sandbox.tmp_dir)
        finally:
            if sandbox.pidfd is not None:
                os.close(sandbox.pidfd)
            self.done(sandbox)

    async def _remove_cgroup(self, path: str | None, deadline: float) -> bool:
        while not self.cgroups.remove(path):
            if time.monotonic() > deadline:
                return False
            self.cgroups.kill_all(path)
            await asyncio.sleep(_RETRY_INTERVAL_S)
        return True


async def _wait_gone(sandbox: Sandbox, deadline: float) -> bool:
    """Wait until the sandbox's process has exited; return False if the deadline passed first."""
    if sandbox.pidfd is None:
        while _running(sandbox.pid):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(_RETRY_INTERVAL_S)
        return True

    # A pidfd becomes readable once its process has exited, reaped or not.
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()
    loop.add_reader(sandbox.pidfd, lambda: exited.done() or exited.set_result(None))
    try:
        await asyncio.wait_for(exited, max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(sandbox.pidfd)
    return True


def _running(pid: int) -> bool:
    """Tell whether a process exists and has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in brackets and may contain spaces.
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
