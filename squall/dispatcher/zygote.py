"""The server's handle on a function's zygote process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

import orjson

from squall.dispatcher.instance import Instance
from squall.dispatcher.limits import MemoryCgroups
from squall.errors import SquallError

logger = logging.getLogger(__name__)

# A zygote only imports the runtime, so a few seconds is plenty even on a
# loaded machine; past it the deploy fails with the zygote's own stderr.
ZYGOTE_START_TIMEOUT_S = 30.0


class ZygoteError(SquallError):
    """Raised when a zygote cannot be started or stops answering."""


class Zygote:
    """Starts one function version's zygote and asks it to fork instances."""

    def __init__(
        self,
        *,
        name: str,
        config: dict,
        environment: dict[str, str],
        root: Path,
        tmp_root: Path,
        cgroups: MemoryCgroups,
    ) -> None:
        self.name = name
        self.cgroups = cgroups
        self._config = config
        self._environment = environment
        self._root = root
        self._tmp_root = tmp_root
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._spawning: dict[str, asyncio.Future[dict]] = {}
        self._instances: dict[int, Instance] = {}
        self._early_exits: dict[int, int] = {}

    async def start(self) -> None:
        """Start the process and wait until it has imported the runtime."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "squall.runtime.zygote", str(theirs.fileno()), orjson.dumps(self._config).decode()]
        self._process = subprocess.Popen(
            command,
            cwd=self._root,
            env=self._environment,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
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
                message = control.recv(65536)
            except BlockingIOError:
                return
            except OSError as error:
                message = b""
                logger.warning("zygote of %r: control socket failed: %s", self.name, error)
            if not message:
                self._on_zygote_exit()
                return
            self._handle(orjson.loads(message))

    def _handle(self, message: dict) -> None:
        if "spawned" in message:
            future = self._spawning.pop(message["spawned"], None)
            if future is not None and not future.done():
                future.set_result(message)
        elif "exited" in message:
            instance = self._instances.pop(message["exited"], None)
            if instance is not None:
                instance.on_exit(message["status"])
            else:
                self._early_exits[message["exited"]] = message["status"]
        elif message.get("ready") and not self._ready.done():
            self._ready.set_result(None)

    def _on_zygote_exit(self) -> None:
        if self._control is not None:
            self._loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        error = ZygoteError(f"zygote of {self.name!r} exited")
        if not self._ready.done():
            self._ready.set_exception(error)
        for future in self._spawning.values():
            if not future.done():
                future.set_exception(error)
        self._spawning.clear()

    @property
    def alive(self) -> bool:
        return self._control is not None

    async def spawn(
        self, *, memory_mb: int, provisioned: bool, log_stream: str, on_death: Callable[[Instance], None]
    ) -> Instance:
        """Fork a new instance; it is running its init phase when this returns."""
        if self._control is None:
            raise ZygoteError(f"zygote of {self.name!r} is not running")
        instance_id = uuid.uuid4().hex
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_fd = os.memfd_create(f"squall-{self.name}", os.MFD_CLOEXEC)
        request = {
            "spawn": instance_id,
            "log_stream": log_stream,
            "initialization": "provisioned-concurrency" if provisioned else "on-demand",
        }
        future: asyncio.Future[dict] = self._loop.create_future()
        self._spawning[instance_id] = future
        try:
            socket.send_fds(self._control, [orjson.dumps(request)], [theirs.fileno(), log_fd])
        except OSError:
            self._spawning.pop(instance_id, None)
            ours.close()
            os.close(log_fd)
            raise
        finally:
            theirs.close()
        try:
            reply = await future
        except BaseException:
            ours.close()
            os.close(log_fd)
            raise

        pid = reply["pid"]
        instance = Instance(
            instance_id=instance_id,
            zygote=self,
            memory_mb=memory_mb,
            log_fd=log_fd,
            cgroup=reply.get("cgroup"),
            provisioned=provisioned,
            tmp_dir=reply["tmp_dir"],
            on_death=on_death,
        )
        self._instances[pid] = instance
        await instance.attach(ours, pid)
        if pid in self._early_exits:
            instance.on_exit(self._early_exits.pop(pid))
        return instance

    def stop(self) -> None:
        """Stop the zygote; its instances die with it (they ask the kernel to)."""
        if self._control is not None:
            self._loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            # Reap off the event loop: the kill is immediate but wait() blocks.
            process = self._process
            self._loop.run_in_executor(None, process.wait)
