"""The zygote: a warmed process that forks a function's instances.

The server starts one zygote per function version, with the function's
environment and the runtime already imported. Every instance is a fork of it,
so an instance begins life with everything but the user's handler loaded.

The zygote does not wait for a cold start to fork: it keeps spares, each
forked, limited and waiting for an assignment on a socket whose other end it
hands to the server. The server assigns a spare directly and requests a new
one, so neither the fork, the spare's set-up nor the zygote itself is on the
path of a cold start.

Control messages travel over a SOCK_SEQPACKET socket as JSON, one per packet:
  server -> zygote: {"fork": n}: fork n more spares; the end of the stream: exit
  zygote -> server: {"ready": true} once;
                    {"spare": pid, "cgroup": path|null, "tmp_dir": path} with the spare's
                    assignment socket attached, then a pidfd of the spare where the kernel has one;
                    {"exited": pid, "status": wait_status} for every child reaped
  server -> spare:  {"spawn": id, "log_stream": ..., "initialization": "on-demand"|"provisioned-concurrency"}
                    with two descriptors attached: the instance's socket and its log file
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.util
import io
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import uuid

from squall.runtime import bootstrap
from squall.runtime.descendants import children_of, descendants_of, kill_processes

# The dispatcher starts the zygote with `python -P`, so the folder it runs in,
# the function's code, is not on sys.path while the runtime imports what it
# needs: a module of the function named like one of the standard library's
# (`math.py`, `typing.py`) cannot take that module's place. main() puts the
# folder first once the runtime has all it needs.

# Lambda's quota of file descriptors per execution environment.
MAX_OPEN_FILES = 1024
# Lambda's quota of processes and threads per execution environment.
MAX_TASKS = 1024
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)  # loaded once here so that forks skip dlopen
# The spares this zygote forked and has not reaped.
_forked: set[int] = set()
# Children the zygote's start-up made, such as a helper process started by a preloaded module.
_own_children: set[int] = set()
# Whether a spare of a server not run as root can enter a user namespace of its own (see `_own_user_namespace`).
_user_namespaces = False
# From <sched.h> and <sys/mount.h>.
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MNT_DETACH = 2
# Mount flags that statvfs reports with the same values: nosuid, nodev, noexec, noatime, nodiratime, relatime.
_KEPT_MOUNT_FLAGS = 2 | 4 | 8 | 1024 | 2048 | 4096


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _yield_on_wake_up() -> None:
    """Put this process, and every fork of it, under SCHED_BATCH.

    A SCHED_BATCH process keeps its fair share of CPU time, but waking it up
    does not preempt the process that woke it. The server wakes an instance
    each time it sends an invocation. Under SCHED_OTHER the instance then
    often took the CPU from the server's event loop, which every other
    request waits on. With 8 concurrent callers of a no-op function on a
    2-vCPU virtual machine, the policy cut the server's CPU per call by
    about 18 % and the instances' by about 30 % (docs/performance.md, section 2).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError) as error:
        # The policy only saves CPU time, so instances work the same without it.
        print(f"squall zygote: cannot set SCHED_BATCH, keeping the default policy: {error}", file=sys.stderr)


def _create_cgroup(config: dict) -> str | None:
    """Create the memory cgroup of the next instance, or return None to use an rlimit."""
    settings = config.get("cgroup")
    if not settings:
        return None
    path = os.path.join(settings["parent"], uuid.uuid4().hex)
    limit = str(config["memory_mb"] * 1024 * 1024)
    try:
        os.mkdir(path)
        if settings["version"] == 1:
            _write(os.path.join(path, "memory.limit_in_bytes"), limit)
            if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                _write(os.path.join(path, "memory.memsw.limit_in_bytes"), limit)
        else:
            _write(os.path.join(path, "memory.max"), limit)
            _write(os.path.join(path, "memory.swap.max"), "0")
    except OSError as error:
        sys.stderr.write(f"squall: cannot create memory cgroup {path}: {error}; using an rlimit\n")
        try:
            os.rmdir(path)
        except OSError:
            pass
        return None
    _cap_tasks(path, settings)
    return path


def _pids_cgroup(path: str, settings: dict) -> str | None:
    """Return the cgroup that counts an instance's processes: its memory cgroup (v2), or one of the same name (v1)."""
    if not settings.get("pids"):
        return None
    parent = settings.get("pids_parent")
    return os.path.join(parent, os.path.basename(path)) if parent else path


def _cap_tasks(path: str, settings: dict) -> None:
    """Cap the instance's processes and threads together at Lambda's quota, where the pids controller allows."""
    pids = _pids_cgroup(path, settings)
    if pids is None:
        return
    try:
        if pids != path:
            os.mkdir(pids)
        _write(os.path.join(pids, "pids.max"), str(MAX_TASKS))
    except OSError as error:
        sys.stderr.write(f"squall: cannot cap processes in cgroup {pids}: {error}; the instance has no such cap\n")


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _own_tmp(tmp_dir: str, needed: list[str]) -> bool:
    """Show the instance its own folder at /tmp, as Lambda gives each execution environment its /tmp.

    The instance gets a mount namespace of its own, where its mounts are
    private, and its TMPDIR is bound over /tmp there. That needs
    CAP_SYS_ADMIN, as a server run as root has. /tmp stays the host's
    without it, when a step fails, or when a folder the instance imports
    from is under /tmp, because the mount would hide that folder. Returns
    whether /tmp is the instance's own.
    """
    host_tmp = os.path.realpath("/tmp") + os.sep
    if any(os.path.realpath(folder).startswith(host_tmp) for folder in needed):
        return False
    if _libc.unshare(_CLONE_NEWNS) != 0 and not (_user_namespaces and _own_user_namespace()):
        return False
    # Without this, the bind mount below could reach the host's namespace.
    if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False
    return _libc.mount(tmp_dir.encode(), b"/tmp", None, _MS_BIND, None) == 0


def _own_shm(memory_mb: int) -> None:
    """Mount a /dev/shm of the instance's own, of at most its memory size, so that instances share no memory files."""
    if not os.path.isdir("/dev/shm"):
        return
    options = f"mode=1777,size={memory_mb}m".encode()
    if _libc.mount(b"squall-shm", b"/dev/shm", b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        sys.stderr.write(
            f"squall: mounting a /dev/shm for the instance failed ({os.strerror(ctypes.get_errno())}),"
            " so it shares the host's\n"
        )


def _own_user_namespace() -> bool:
    """Enter a user namespace and a mount namespace of its own, where a process not run as root may mount.

    The process keeps its user and group ids, each mapped to itself, and
    gets every capability inside the new namespace only, until
    `_drop_capabilities`. Returns whether it entered one.
    """
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS) != 0:
        return False
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as error:
        # Without its ids the process cannot use its files, so this spare cannot serve.
        sys.stderr.write(f"squall: mapping the ids of a user namespace failed: {error}\n")
        os._exit(1)
    return True


def user_namespaces_allowed() -> bool:
    """Tell whether a fork of this process can enter a user namespace and mount there, as a spare of a non-root server does."""
    pid = os.fork()
    if pid == 0:
        try:
            # AppArmor's restriction on unprivileged user namespaces lets one be made but not mounted in.
            mounts = _own_user_namespace() and _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
            os._exit(0 if mounts else 1)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


# From <linux/capability.h>: the header of capset(2), version 3 (two 32-bit words per set).
_CAPABILITY_VERSION_3 = 0x20080522


def _drop_capabilities() -> None:
    """Give up every capability, so that a handler cannot undo the mounts its user namespace allowed."""
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    sets = (ctypes.c_uint32 * 6)()
    if _libc.capset(header, sets) != 0:
        sys.stderr.write(f"squall: dropping the capabilities of a user namespace failed: {os.strerror(ctypes.get_errno())}\n")
        os._exit(1)


def _hide_data(data_dir: str, keep: list[str]) -> None:
    """Hide the server's data folder in the instance's mount namespace, all but the folders of `keep` inside it.

    The data folder contains the secrets key, the databases with every
    function's logs and the server's token, none of which a handler needs.
    An empty read-only file system is mounted over it, and the code, packages
    and layers the instance runs from are bound back at their paths. When a
    step fails, the folder stays as it was.
    """
    data = os.path.realpath(data_dir)
    if not os.path.isdir(data):
        return  # under /tmp, which the instance's own folder now covers
    inside = sorted({os.path.realpath(folder) for folder in keep if os.path.realpath(folder).startswith(data + os.sep)})
    # A folder inside another kept one comes back with it.
    inside = [folder for folder in inside if not any(folder.startswith(other + os.sep) for other in inside)]
    try:
        # Opened before the data folder is hidden, these name the folders to bind back.
        handles = [os.open(folder, os.O_PATH | os.O_DIRECTORY) for folder in inside]
    except OSError as error:
        sys.stderr.write(f"squall: opening {error.filename} failed ({error}), so the data folder {data} stays visible\n")
        return
    try:
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        if _libc.mount(b"squall-hidden", data.encode(), b"tmpfs", flags, b"mode=0755,size=1m") != 0:
            sys.stderr.write(
                f"squall: hiding the data folder {data} failed ({os.strerror(ctypes.get_errno())}), so it stays visible\n"
            )
            return
        for folder, handle in zip(inside, handles):
            os.makedirs(folder, exist_ok=True)
            if _libc.mount(f"/proc/self/fd/{handle}".encode(), folder.encode(), None, _MS_BIND | _MS_REC, None) != 0:
                sys.stderr.write(
                    f"squall: binding {folder} into the hidden data folder failed ({os.strerror(ctypes.get_errno())}),"
                    " so the data folder stays visible\n"
                )
                _libc.umount2(data.encode(), _MNT_DETACH)
                return
        _libc.mount(None, data.encode(), None, _MS_REMOUNT | _MS_RDONLY | flags, None)
    finally:
        for handle in handles:
            os.close(handle)


def _read_only(folders: list[str]) -> None:
    """Remount folders read-only in the instance's own mount namespace, as Lambda's /var/task and /opt are.

    A handler then cannot change the deployed code, which other instances,
    later deploys of the same code and published versions share. A folder
    that cannot be remounted stays writable.
    """
    for folder in folders:
        path = os.fsencode(folder)
        if _libc.mount(path, path, None, _MS_BIND | _MS_REC, None) == 0:
            # The flags the folder's mount has (nosuid, nodev, noexec, ...) stay: a user namespace may not clear them.
            mount_flags = os.statvfs(folder).f_flag & _KEPT_MOUNT_FLAGS
            _libc.mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | mount_flags, None)


def _limit_memory(memory_mb: int, cgroup: str | None, settings: dict | None) -> None:
    if cgroup:
        pids = _pids_cgroup(cgroup, settings or {})
        if pids is not None and pids != cgroup:
            try:
                _write(os.path.join(pids, "cgroup.procs"), str(os.getpid()))
            except OSError as error:
                sys.stderr.write(f"squall: cannot join pids cgroup {pids}: {error}; the instance has no process cap\n")
        try:
            _write(os.path.join(cgroup, "cgroup.procs"), str(os.getpid()))
            bootstrap.memory_cgroup = True
            return
        except OSError as error:
            sys.stderr.write(f"squall: cannot join memory cgroup {cgroup}: {error}; using an rlimit\n")

    # Without a cgroup, cap the address space: what the runtime has already
    # mapped plus the function's memory size.
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    limit = mapped + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_files() -> None:
    """Allow the instance at most Lambda's 1,024 open files, or the host's lower limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    soft = limit if soft == resource.RLIM_INFINITY else min(soft, limit)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, limit))


def _offer_spare(control: socket.socket, config: dict, closing: list[int]) -> None:
    """Fork a spare and hand its assignment socket to the server."""
    cgroup = _create_cgroup(config)
    tmp_dir = tempfile.mkdtemp(prefix="instance-", dir=config["tmp_root"])
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _run_spare(theirs, cgroup, tmp_dir, closing, config)
    _forked.add(pid)
    theirs.close()
    # Opened before this process can reap the spare, the pidfd cannot name
    # another process that reused the pid.
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (OSError, AttributeError):
        pidfd = None
    # Offer the spare once its set-up is done, so that a cold start never
    # waits on a cgroup move. An empty read means the spare died: the server
    # then finds its socket closed and takes another.
    ours.recv(16)
    offer = {"spare": pid, "cgroup": cgroup, "tmp_dir": tmp_dir}
    fds = [ours.fileno()] if pidfd is None else [ours.fileno(), pidfd]
    try:
        socket.send_fds(control, [json.dumps(offer).encode()], fds)
    finally:
        ours.close()
        if pidfd is not None:
            os.close(pidfd)


def _run_spare(channel: socket.socket, cgroup: str | None, tmp_dir: str, closing: list[int], config: dict) -> None:
    # Set-up that does not depend on the assignment happens before it arrives.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in closing:
        os.close(fd)
    _die_with_parent()
    # A group of its own lets the server kill the processes the handler
    # starts when the instance ends, where no cgroup contains them. As a
    # subreaper, the instance also stays the parent of a process that left
    # the group (a new session, a daemon), so the server finds it among the
    # instance's descendants.
    os.setpgid(0, 0)
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _limit_memory(config["memory_mb"], cgroup, config.get("cgroup"))
    _limit_files()
    # Every folder the instance may still import from, the code and the runtime's own.
    needed = [folder for folder in sys.path if folder] + [config["root"]]
    # The instance's folder is also at /tmp then, where code that writes to /tmp by name expects it.
    private_mounts = _own_tmp(tmp_dir, needed)
    os.environ["TMPDIR"] = "/tmp" if private_mounts else tmp_dir
    if private_mounts:
        _own_shm(config["memory_mb"])
        code = config.get("service_root", config["root"])
        if config.get("data_dir"):
            _hide_data(config["data_dir"], [*needed, code])
        _read_only([code, *config.get("site_packages", ()), *config.get("layers", ())])
        if os.geteuid() != 0:
            _drop_capabilities()
        # The working folder was entered before the remount: enter it again through the read-only mount.
        os.chdir(config["root"])
    # Importing a module and encoding JSON once copies the pages that the
    # handler's import and the first frames write to, before any request waits.
    importlib.import_module("squall.runtime._warmup")
    json.loads(json.dumps({"warm": [1, 2.5, "x", None]}))
    channel.send(b"set")

    try:
        message, fds, _, _ = socket.recv_fds(channel, 65536, 2)
    except OSError:
        os._exit(0)
    if not message:
        os._exit(0)  # the zygote is stopping
    channel.close()
    request = json.loads(message)
    sock_fd, log_fd = fds

    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    # The runtime keeps a descriptor of its own on the log file, so that a handler
    # that closes its stdout and stderr still gets its result through.
    os.set_inheritable(log_fd, False)
    os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = request["log_stream"]
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = request.get("initialization", "on-demand")

    settings = bootstrap.InstanceSettings(
        function_name=config["function_name"],
        function_version=config["function_version"],
        handler=config["handler"],
        memory_mb=config["memory_mb"],
        log_group_name=config["log_group_name"],
        log_stream_name=request["log_stream"],
        tmp_dir=tmp_dir,
    )
    sock = socket.socket(fileno=sock_fd)
    try:
        bootstrap.serve(sock, log_fd, settings)
    finally:
        os._exit(0)


def _unbuffered(fd: int, stream: io.TextIOWrapper) -> io.TextIOWrapper:
    """Return a text stream on `fd`, with the encoding of `stream`, that passes each write to the file."""
    raw = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115 - lives as long as the process
    return io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors, write_through=True)


def _prime_finder(handler: str) -> None:
    # Locating the handler's module (without running it) fills the import
    # system's directory caches here, once, instead of in every instance.
    # Only a top-level module: finding `pkg.mod` would run `pkg/__init__.py`.
    module = handler.rsplit(".", 1)[0].replace("/", ".")
    if "." in module:
        return
    try:
        importlib.util.find_spec(module)
    except (ImportError, ValueError):
        pass  # the instance reports the error in Lambda's shape


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in _forked:
            _forked.discard(pid)
            control.send(json.dumps({"exited": pid, "status": status}).encode())
    _kill_orphans()


def _kill_orphans() -> None:
    """Kill the processes that instances which exited by themselves left to this subreaper, with their descendants.

    The server kills the descendants of an instance it ends. An instance that
    crashed or was killed by its memory limit leaves them here instead.
    """
    for orphan in children_of(os.getpid()):
        if orphan not in _forked and orphan not in _own_children:
            kill_processes([*descendants_of(orphan), orphan])


def main() -> None:
    control_fd = int(sys.argv[1])
    config = json.loads(sys.argv[2])
    # Handlers see the runtime's script as their argv, as on Lambda, not the zygote's arguments.
    sys.argv[:] = [bootstrap.__file__]
    control = socket.socket(fileno=control_fd)
    _die_with_parent()
    # Processes left by an instance that died become this process's children, not init's.
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _yield_on_wake_up()
    global _user_namespaces
    _user_namespaces = os.geteuid() != 0 and user_namespaces_allowed()

    # The runtime has imported every module it needs, so the function's code root can go first on sys.path.
    root = config["root"]
    os.chdir(root)
    sys.path.insert(0, root)
    # Installed requirements come after the code, so that a module of the service wins over a package of the same name.
    for position, folder in enumerate(config.get("site_packages", ()), start=1):
        sys.path.insert(position, folder)
    # Layers come after the function's own packages, as Lambda puts /opt after /var/task.
    for position, folder in enumerate(config.get("layers", ()), start=1 + len(config.get("site_packages", ()))):
        sys.path.insert(position, folder)
    # Each write reaches the log file at once, as Lambda's runtime flushes every
    # write, so output before a crash or a timeout is kept, even without a newline.
    sys.stdout = _unbuffered(1, sys.stdout)
    sys.stderr = _unbuffered(2, sys.stderr)
    bootstrap.install_logging()
    for name in config.get("preload", ()):
        importlib.import_module(name)
    _prime_finder(config["handler"])

    # Objects that exist now are shared by every fork; keeping the collector
    # away from them stops it from copying their pages into each instance.
    gc.collect()
    gc.freeze()
    _own_children.update(children_of(os.getpid()))

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    closing = [control_fd, wake_read, wake_write]
    _offer_spare(control, config, closing)
    control.send(b'{"ready": true}')

    while True:
        readable, _, _ = select.select([control_fd, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 4096)
            _reap(control)
        if control_fd not in readable:
            continue
        try:
            message = control.recv(65536)
        except ConnectionResetError:
            return
        if not message:
            return  # the server closed the control socket: stop
        for _ in range(json.loads(message).get("fork", 0)):
            _offer_spare(control, config, closing)
        _reap(control)


if __name__ == "__main__":
    main()
