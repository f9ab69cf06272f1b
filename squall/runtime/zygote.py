"""The zygote: a warmed process that forks a function's instances.

Started once per function version with the function's environment and the
runtime already imported; each SPAWN request from the server becomes a fork,
so an instance begins life with everything but the user's handler loaded.

Control messages travel over a SOCK_SEQPACKET socket as JSON, one per packet:
  server -> zygote: {"spawn": id, "log_stream": ..., "tmp_dir": ..., "cgroup": path|null,
                     "initialization": "on-demand"|"provisioned-concurrency"}
                    with two descriptors attached: the instance's socket and its log file
  zygote -> server: {"ready": true} once, then {"spawned": id, "pid": pid}
                    and {"exited": pid, "status": wait_status}
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.util
import json
import os
import resource
import select
import signal
import socket
import sys

from squall.runtime import bootstrap

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # loaded once here so that forks skip dlopen


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _limit_memory(memory_mb: int, cgroup: str | None) -> None:
    if cgroup:
        try:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
            return
        except OSError as error:
            sys.stderr.write(f"squall: cannot join memory cgroup {cgroup}: {error}; using an rlimit\n")

    # Without a cgroup, cap the address space: what the runtime has already
    # mapped plus the function's memory size.
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    limit = mapped + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _run_child(request: dict, sock_fd: int, log_fd: int, closing: list[int], config: dict) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in closing:
        os.close(fd)
    _die_with_parent()

    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)

    _limit_memory(config["memory_mb"], request.get("cgroup"))
    os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = request["log_stream"]
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = request.get("initialization", "on-demand")
    os.environ["TMPDIR"] = request["tmp_dir"]

    settings = bootstrap.InstanceSettings(
        function_name=config["function_name"],
        function_version=config["function_version"],
        handler=config["handler"],
        memory_mb=config["memory_mb"],
        log_group_name=config["log_group_name"],
        log_stream_name=request["log_stream"],
        tmp_dir=request["tmp_dir"],
    )
    sock = socket.socket(fileno=sock_fd)
    try:
        bootstrap.serve(sock, 1, settings)
    finally:
        os._exit(0)


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
            return
        if pid == 0:
            return
        control.send(json.dumps({"exited": pid, "status": status}).encode())


def main() -> None:
    control_fd = int(sys.argv[1])
    config = json.loads(sys.argv[2])
    control = socket.socket(fileno=control_fd)
    _die_with_parent()

    root = config["root"]
    os.chdir(root)
    sys.path.insert(0, root)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    bootstrap.install_logging()
    for name in config.get("preload", ()):
        importlib.import_module(name)
    _prime_finder(config["handler"])

    # Objects that exist now are shared by every fork; keeping the collector
    # away from them stops it from copying their pages into each instance.
    gc.collect()
    gc.freeze()

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.send(b'{"ready": true}')

    while True:
        readable, _, _ = select.select([control_fd, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 4096)
            _reap(control)
        if control_fd not in readable:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, 65536, 2)
        except ConnectionResetError:
            return
        if not message:
            return  # the server closed the control socket: stop
        request = json.loads(message)
        sock_fd, log_fd = fds

        pid = os.fork()
        if pid == 0:
            _run_child(request, sock_fd, log_fd, [control_fd, wake_read, wake_write], config)
        os.close(sock_fd)
        os.close(log_fd)
        control.send(json.dumps({"spawned": request["spawn"], "pid": pid}).encode())
        _reap(control)


if __name__ == "__main__":
    main()
