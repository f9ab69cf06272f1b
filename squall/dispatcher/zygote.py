"""The server's handle on a function's zygote process."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import orjson

from squall.dispatcher.instance import Instance
from squall.dispatcher.teardown import Sandbox, Teardown, open_pidfd
from squall.deploy.layers import layer_paths_for
from squall.deploy.requirements import site_packages_for
from squall.errors import SquallError

logger = logging.getLogger(__name__)

# A zygote only imports the runtime, which takes well under a second; the
# limit leaves room for a loaded machine. Past it the deploy fails, and the
# zygote's own errors are on the server's stderr, which it inherits.
ZYGOTE_START_TIMEOUT_S = 30.0
# A stopping zygote finishes the spare it is forking, if any, and exits. One
# that has not exited by then is killed.
ZYGOTE_STOP_TIMEOUT_S = 2.0


class ZygoteError(SquallError):
    """Raised when a zygote cannot be started or its control socket closes."""


@dataclass(frozen=True)
class _Spare:
    """A forked process of the zygote, waiting for an assignment on `channel`."""

    channel: socket.socket
    sandbox: Sandbox


class Zygote:
    """The server's side of one function version's zygote: its start, its spares and its exits."""

    def __init__(
        self,
        *,
        name: str,
        config: dict,
        environment: dict[str, str],
        root: Path,
        tmp_root: Path,
        teardown: Teardown,
    ) -> None:
        self.name = name
        self.teardown = teardown
        self.cgroups = teardown.cgroups
        self._config = config
        self._environment = environment
        self._root = root
        self._tmp_root = tmp_root
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._spares: collections.deque[_Spare] = collections.deque()
        self._spare_waiters: collections.deque[asyncio.Future[_Spare]] = collections.deque()
        self._instances: dict[int, Instance] = {}
        self._early_exits: dict[int, int] = {}
        self._stopping = False
        self._stop_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Start the process and wait until it has imported the runtime."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The installed requirements of the function's code, which the zygote puts on sys.path after the code.
        site_packages = site_packages_for(self._root, self._config["handler_path"], self._config.get("code_dir", ""))
        config = {**self._config, "site_packages": list(site_packages)}
        # The function's layer versions that the deploy of this code copy stored, imported after its requirements.
        config["layers"] = list(layer_paths_for(self._root, self.name))
        command = [sys.executable, "-P", "-m", "squall.runtime.zygote", str(theirs.fileno()), orjson.dumps(config).decode()]
        self._process = subprocess.Popen(
            command,
            cwd=self._root,
            env=self._environment,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # A session of its own keeps a terminal's Ctrl-C away from the
            # zygote and its instances: the server stops them itself, after
            # the invocations in flight.
            start_new_session=True,
        )
        theirs.close()
        # Held until its control socket closes, so that a stopping server
        # waits for the spares whose offers are still on their way.
        self.teardown.hold(self)
        ours.setblocking(False)
        self._control = ours
        self._loop.add_reader(ours.fileno(), self._on_control)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), ZYGOTE_START_TIMEOUT_S)
        except TimeoutError:
            self.stop()
            raise ZygoteError(f"zygote of {self.name!r} did not start within {ZYGOTE_START_TIMEOUT_S:.0f} s") from None

    def _on_control(self) -> None:
        control = self._control
        if control is None:
            return
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(control, 65536, 2)
            except BlockingIOError:
                return
            except OSError as error:
                message, fds = b"", []
                logger.warning("zygote of %r: control socket failed: %s", self.name, error)
            if not message:
                self._on_zygote_exit()
                return
            self._handle(orjson.loads(message), fds)

    def _handle(self, message: dict, fds: list[int]) -> None:
        if "spare" in message:
            channel = socket.socket(fileno=fds[0])
            channel.setblocking(False)
            pid = message["spare"]
            # The zygote sends a pidfd it opened before it could reap the spare, so it names the right process.
            pidfd = fds[1] if len(fds) > 1 else open_pidfd(pid)
            spare = _Spare(channel, Sandbox(pid, pidfd, message["cgroup"], message["tmp_dir"]))
            self.teardown.hold(spare.sandbox)
            if self._stopping:
                self._release_spare(spare)
                return
            while self._spare_waiters:
                waiter = self._spare_waiters.popleft()
                if not waiter.done():
                    waiter.set_result(spare)
                    return
            self._spares.append(spare)
            return
        elif "exited" in message:
            instance = self._instances.pop(message["exited"], None)
            if instance is not None:
                instance.on_exit(message["status"])
            else:
                self._early_exits[message["exited"]] = message["status"]
        elif message.get("ready") and not self._ready.done():
            self._ready.set_result(None)
        for fd in fds[1:]:
            os.close(fd)

    def _on_zygote_exit(self) -> None:
        if self._control is not None:
            self._loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        error = ZygoteError(f"zygote of {self.name!r} exited")
        if not self._ready.done():
            self._ready.set_exception(error)
        for waiter in self._spare_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._spare_waiters.clear()
        self._close_spares()

        # The zygote reports no more exits, so its instances learn of theirs another way.
        instances = list(self._instances.values())
        self._instances.clear()
        self._early_exits.clear()
        for instance in instances:
            instance.on_zygote_exit()
        self._reap()
        self.teardown.done(self)

    def _close_spares(self) -> None:
        for spare in self._spares:
            self._release_spare(spare)
        self._spares.clear()

    def _release_spare(self, spare: _Spare) -> None:
        spare.channel.close()
        self.teardown.release(spare.sandbox)

    def _reap(self) -> None:
        if self._process is None:
            return
        # A zygote whose control socket closed is of no use, even if it has
        # not exited yet (a failed read closes the socket too).
        if self._process.poll() is None:
            self._process.kill()
        # Reap off the event loop: wait() blocks until the kernel ends the process.
        self._loop.run_in_executor(None, self._process.wait)

    @property
    def alive(self) -> bool:
        return self._control is not None and not self._stopping

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def request_spare(self) -> None:
        """Ask the zygote to fork one more spare."""
        if self.alive:
            self._control.send(b'{"fork": 1}')  # type: ignore[union-attr]

    async def _take_spare(self) -> tuple[_Spare, bool]:
        """Take a spare, and return whether its replacement is still to be requested.

        A spare that was waiting is replaced only after its instance has
        returned a result, so that the next fork does not compete with the
        cold start for the CPU. A call that finds no spare asks for one at once.
        """
        if not self.alive:
            raise ZygoteError(f"zygote of {self.name!r} is not running")
        if self._spares:
            return self._spares.popleft(), True
        self.request_spare()
        waiter: asyncio.Future[_Spare] = self._loop.create_future()
        self._spare_waiters.append(waiter)
        return await waiter, False

    async def spawn(
        self, *, memory_mb: int, provisioned: bool, log_stream: str, on_death: Callable[[Instance], None]
    ) -> Instance:
        """Assign a spare as a new instance; it is running its init phase when this returns."""
        instance_id = uuid.uuid4().hex
        request = orjson.dumps(
            {
                "spawn": instance_id,
                "log_stream": log_stream,
                "initialization": "provisioned-concurrency" if provisioned else "on-demand",
            }
        )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_fd = os.memfd_create(f"squall-{self.name}", os.MFD_CLOEXEC)
        try:
            while True:
                spare, replace_later = await self._take_spare()
                assigned_at = time.perf_counter()
                try:
                    socket.send_fds(spare.channel, [request], [theirs.fileno(), log_fd])
                    break
                except OSError as error:
                    logger.info(
                        "zygote of %r: spare %d is gone (%s); taking another", self.name, spare.sandbox.pid, error
                    )
                    self.teardown.release(spare.sandbox)
                    if replace_later:
                        self.request_spare()
                finally:
                    spare.channel.close()
        except BaseException:
            ours.close()
            os.close(log_fd)
            raise
        finally:
            theirs.close()

        pid = spare.sandbox.pid
        instance = Instance(
            instance_id=instance_id,
            zygote=self,
            memory_mb=memory_mb,
            log_fd=log_fd,
            sandbox=spare.sandbox,
            provisioned=provisioned,
            on_death=on_death,
            assigned_at=assigned_at,
            replace_spare=replace_later,
        )
        self._instances[pid] = instance
        await instance.attach(ours)
        if pid in self._early_exits:
            instance.on_exit(self._early_exits.pop(pid))
        elif self._control is None:
            instance.on_zygote_exit()  # the zygote exited while the instance was attached
        return instance

    def stop(self) -> None:
        """Stop the zygote; its instances die with it (they ask the kernel to).

        The zygote first finishes the spare it may be forking and sends its
        offer, so that the server learns of every cgroup and TMPDIR to remove.
        """
        if self._stopping:
            return
        self._stopping = True
        error = ZygoteError(f"zygote of {self.name!r} is stopping")
        for waiter in self._spare_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._spare_waiters.clear()
        self._close_spares()
        if self._control is None:
            return

        # The zygote exits when it reads the end of its control socket, and the
        # server reads the offers sent before that until the socket closes.
        try:
            self._control.shutdown(socket.SHUT_WR)
        except OSError:
            self._kill()
        self._stop_timer = self._loop.call_later(ZYGOTE_STOP_TIMEOUT_S, self._kill)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            logger.warning("zygote of %r did not stop within %.0f s; killing it", self.name, ZYGOTE_STOP_TIMEOUT_S)
            self._process.kill()
