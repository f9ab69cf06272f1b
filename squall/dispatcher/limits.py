"""Memory limits for instances: a cgroup each where the host allows, else an rlimit.

The server creates a parent cgroup under its own. Each zygote creates one
cgroup per instance below it (see `squall/runtime/zygote.py`), and the
forked instance moves itself in before it imports user code. When no
writable memory cgroup is found, `MemoryCgroups.available` is False and each
instance caps its address space with RLIMIT_AS instead (see the zygote).

Where the host also lets the server use the pids controller, the same
cgroup (cgroup v2), or one of the same name in the pids hierarchy (cgroup
v1), caps the instance at Lambda's 1,024 processes and threads.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

_V1_ROOT = Path("/sys/fs/cgroup/memory")
_V1_PIDS_ROOT = Path("/sys/fs/cgroup/pids")
_V2_ROOT = Path("/sys/fs/cgroup")


def _own_cgroup_v1(controller: str = "memory", root: Path = _V1_ROOT) -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return root / path.lstrip("/")
    return None


def _own_cgroup_v2() -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            base = _V2_ROOT / line[3:].lstrip("/")
            if (base / "cgroup.controllers").exists() and "memory" in (base / "cgroup.controllers").read_text():
                return base
    return None


class MemoryCgroups:
    """Creates, reads and removes the per-instance memory cgroups."""

    def __init__(self, use_cgroups: bool = True) -> None:
        self.version: int | None = None
        self.parent: Path | None = None
        # Whether instance cgroups also cap processes and threads. On cgroup v1
        # each instance's pids cgroup has its memory cgroup's name, under `pids_parent`.
        self.pids = False
        self.pids_parent: Path | None = None
        if use_cgroups:
            self._find_parent()
            if self.parent is not None:
                self._find_pids_parent()

    @property
    def available(self) -> bool:
        return self.parent is not None

    def _find_parent(self) -> None:
        for version, base in ((1, _own_cgroup_v1()), (2, _own_cgroup_v2())):
            if base is None or not base.is_dir():
                continue
            _remove_stale(base)
            parent = base / f"squall-{os.getpid()}"
            try:
                parent.mkdir(exist_ok=True)
                if version == 2:
                    # Limits below this folder need the memory controller enabled on it.
                    (parent / "cgroup.subtree_control").write_text("+memory")
            except OSError as error:
                logger.info("memory cgroup v%d at %s is not writable (%s)", version, base, error)
                continue
            self.version, self.parent = version, parent
            logger.info("memory limits use cgroup v%d under %s", version, parent)
            return
        logger.info("no writable memory cgroup: memory limits use RLIMIT_AS, which counts address space "
                    "reserved (each thread's stack too), and instances may start any number of processes")

    def _find_pids_parent(self) -> None:
        assert self.parent is not None
        if self.version == 2:
            try:
                (self.parent / "cgroup.subtree_control").write_text("+pids")
                self.pids = True
                logger.info("instances are capped at 1,024 processes and threads by cgroup v2 under %s", self.parent)
            except OSError as error:
                logger.info("no pids controller under %s (%s): instances may start any number of processes", self.parent, error)
            return
        base = _own_cgroup_v1("pids", _V1_PIDS_ROOT)
        if base is None or not base.is_dir():
            logger.info("no pids cgroup: instances may start any number of processes")
            return
        _remove_stale(base)
        parent = base / self.parent.name
        try:
            parent.mkdir(exist_ok=True)
        except OSError as error:
            logger.info("pids cgroup at %s is not writable (%s): instances may start any number of processes", base, error)
            return
        self.pids, self.pids_parent = True, parent
        logger.info("instances are capped at 1,024 processes and threads by cgroup v1 under %s", parent)

    def settings(self) -> dict | None:
        """Return what a zygote needs to create instance cgroups itself, or None for rlimits."""
        if self.parent is None:
            return None
        return {
            "parent": str(self.parent),
            "version": self.version,
            "pids": self.pids,
            "pids_parent": str(self.pids_parent) if self.pids_parent else None,
        }

    def was_oom_killed(self, path: str | None) -> bool:
        """Tell whether the kernel's OOM killer acted inside this cgroup."""
        if not path:
            return False
        events = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = (Path(path) / events).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def kill_all(self, path: str | None) -> int:
        """Send SIGKILL to every process in a cgroup and return how many there were.

        cgroup v1 has no `cgroup.kill`, so the processes are read from
        `cgroup.procs` and killed one by one. A process forked between the
        read and the kills survives this call, so callers repeat it until the
        cgroup can be removed.
        """
        if not path:
            return 0
        try:
            pids = (Path(path) / "cgroup.procs").read_text().split()
        except OSError:
            return 0
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
            except OSError as error:
                logger.warning("cannot kill process %s of cgroup %s: %s", pid, path, error)
        return len(pids)

    def remove(self, path: str | None) -> bool:
        """Remove an empty cgroup, and its pids cgroup on cgroup v1; return False while it still contains a process."""
        if not path:
            return True
        if not _remove_cgroup(path):
            return False
        if self.pids_parent is not None:
            # Its processes were the memory cgroup's, so it is empty now too.
            _remove_cgroup(self.pids_parent / os.path.basename(path))
        return True

    def close(self) -> bool:
        """Kill what is left in the instance cgroups, then remove them and the parent.

        Return False while some cgroup still contains a process, because a killed
        process leaves its cgroup only once the kernel has finished its exit.
        """
        if self.parent is None or not self.parent.exists():
            return True
        for child in self.parent.iterdir():
            if child.is_dir():
                self.kill_all(str(child))
                self.remove(str(child))
        _remove_cgroup(self.parent)
        if self.pids_parent is not None:
            _remove_cgroup(self.pids_parent)
        return not self.parent.exists()


def _remove_cgroup(path: str | Path) -> bool:
    """Remove an empty cgroup folder; return False when it still contains a process or a cgroup."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError as error:
        logger.debug("cannot remove cgroup %s: %s", path, error)
        return False
    return True


def _remove_stale(base: Path) -> None:
    """Remove the cgroups left by Squall servers that died without cleaning up, killing what still runs in them.

    Such a server's instances died with it, but a process a handler started
    in a new session lives on in its instance's cgroup.
    """
    for stale in base.glob("squall-*"):
        pid = stale.name.removeprefix("squall-")
        if not pid.isdigit() or _running(int(pid)):
            continue
        left = _kill_members(stale)
        if left:
            logger.info("killed %d process(es) left in the cgroup %s of a stopped server", left, stale)
        try:
            for child in stale.iterdir():
                if child.is_dir():
                    _remove_when_empty(child)
            _remove_when_empty(stale)
        except OSError as error:
            logger.debug("cannot remove stale cgroup %s: %s", stale, error)


def _running(pid: int) -> bool:
    """Tell whether a process runs: it exists and is not a zombie, as a killed server is until its parent reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may contain any character.
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def _kill_members(cgroup: Path) -> int:
    """Kill every process in a cgroup and the cgroups under it; return how many there were."""
    killed = 0
    for procs in cgroup.rglob("cgroup.procs"):
        try:
            pids = [int(pid) for pid in procs.read_text().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            if pid <= 0:
                continue  # a process outside this PID namespace, which the kernel may list as 0
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def _remove_when_empty(cgroup: Path, wait_s: float = 1.0) -> None:
    """Remove a cgroup, waiting up to `wait_s` for the processes killed in it to leave; raise OSError if they do not."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.rmdir(cgroup)
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def _user_namespaces_allowed() -> bool:
    """Ask a new interpreter whether this account may create user namespaces, as the zygotes do before each spare."""
    probe = "from squall.runtime.zygote import user_namespaces_allowed as allowed; raise SystemExit(0 if allowed() else 1)"
    try:
        return subprocess.run([sys.executable, "-c", probe], timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("checking whether instances may have user namespaces failed, so they share the host's /tmp: %s", error)
        return False


def log_tmp_isolation(data_dir: Path) -> None:
    """Log whether instances get a /tmp of their own, which the zygote decides per spare by the same rules."""
    host_tmp = os.path.realpath("/tmp") + os.sep
    if os.geteuid() != 0 and not _user_namespaces_allowed():
        logger.info("instances share the host's /tmp: a /tmp per instance needs a server run as root, or a kernel "
                    "that lets other accounts create user namespaces")
    elif (os.path.realpath(data_dir) + os.sep).startswith(host_tmp):
        logger.info("instances share the host's /tmp: the data folder %s is under /tmp", data_dir)
    elif any((os.path.realpath(prefix) + os.sep).startswith(host_tmp) for prefix in (sys.prefix, sys.base_prefix)):
        logger.info("instances share the host's /tmp: Squall's Python (%s) is under /tmp", sys.prefix)
    else:
        logger.info("each instance gets a /tmp of its own")
