"""One function version's instances: reuse, cold starts, the cap, the queue and reaping."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from squall.dispatcher.instance import DEFAULT_INIT_TIMEOUT_S, Instance, InstanceState
from squall.dispatcher.zygote import Zygote, ZygoteError
from squall.errors import Throttled
from squall.manifest.spec import FunctionSpec

if TYPE_CHECKING:
    from squall.dispatcher.budget import MemoryBudget
    from squall.dispatcher.limits import MemoryCgroups

logger = logging.getLogger(__name__)

# Calls allowed to wait for an instance when a function has no reserved
# concurrency: its instances are bounded by the node's memory budget only.
DEFAULT_MAX_QUEUE = 100
# With reserved concurrency, the queue takes this many calls per instance,
# so a burst far above the cap waits for instances rather than failing.
QUEUE_PER_INSTANCE = 10


@dataclass(frozen=True)
class PoolSettings:
    """Settings of a pool beyond its function's spec."""

    service: str
    root: Path
    version: str  # the Lambda version name the function reports ("$LATEST")
    revision: int  # deploy counter, which distinguishes pools of successive deploys
    # The instance environment, complete. Kept out of the repr because it contains resolved secrets.
    environment: dict[str, str] = field(repr=False)
    tmp_root: Path
    preload: tuple[str, ...] = ()
    init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S


@dataclass(slots=True)
class Lease:
    """An instance handed to one invocation; `cold` when it was started for it and may still be in its init."""

    instance: Instance
    cold: bool


class FunctionPool:
    """Keeps one function version's instances and hands them to invocations."""

    def __init__(self, spec: FunctionSpec, settings: PoolSettings, budget: MemoryBudget, cgroups: MemoryCgroups) -> None:
        self.spec = spec
        self.settings = settings
        self.retiring = False
        self.throttles = 0
        self._budget = budget
        self._cgroups = cgroups
        self._zygote: Zygote | None = None
        self._idle: list[Instance] = []  # a stack: the most recently used instance is the warmest
        self._instances: set[Instance] = set()
        self._starting = 0
        self._waiters: collections.deque[asyncio.Future[Instance | None]] = collections.deque()
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        if spec.max_queue is not None:
            self.max_queue = spec.max_queue
        elif spec.reserved_concurrency is not None:
            self.max_queue = spec.reserved_concurrency * QUEUE_PER_INSTANCE
        else:
            self.max_queue = DEFAULT_MAX_QUEUE

    # Counts shown by `squall ls` and used by the budget

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def busy_count(self) -> int:
        return sum(1 for i in self._instances if i.state is InstanceState.BUSY)

    @property
    def live_count(self) -> int:
        return len(self._instances) + self._starting

    @property
    def waiting_count(self) -> int:
        return len(self._waiters)

    @property
    def zygote_pid(self) -> int | None:
        """The process id of the running zygote, or None while there is none."""
        if self._zygote is None or not self._zygote.alive:
            return None
        return self._zygote.pid

    # Start and stop

    async def start(self) -> None:
        """Start the zygote and the provisioned instances."""
        await self._ensure_zygote()
        if self.spec.provisioned:
            results = await asyncio.gather(
                *(self._start_provisioned() for _ in range(self.spec.provisioned)), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                logger.warning("%s: %d of %d provisioned instances failed to start: %s",
                               self.spec.name, len(failures), self.spec.provisioned, failures[0])

    async def _ensure_zygote(self) -> Zygote:
        if self._zygote is not None and self._zygote.alive:
            return self._zygote
        config = {
            "root": str(self.settings.root),
            "function_name": self.spec.name,
            "function_version": self.settings.version,
            "handler": self.spec.handler,
            "memory_mb": self.spec.memory_mb,
            "log_group_name": f"/aws/lambda/{self.spec.name}",
            "preload": list(self.settings.preload),
            "tmp_root": str(self.settings.tmp_root),
            "cgroup": self._cgroups.settings(),
        }
        zygote = Zygote(
            name=self.spec.name,
            config=config,
            environment=self.settings.environment,
            root=self.settings.root,
            tmp_root=self.settings.tmp_root,
            cgroups=self._cgroups,
        )
        await zygote.start()
        self._zygote = zygote
        return zygote

    def retire(self, reason: str = "the function was redeployed while the call waited") -> None:
        """Stop taking invocations; instances stop once their invocation in flight ends."""
        self.retiring = True
        for future in self._waiters:
            if not future.done():
                future.set_exception(Throttled(self.spec.name, reason))
        self._waiters.clear()
        for instance in list(self._idle):
            self._close(instance)
        self._idle.clear()
        self._stop_if_empty()

    def kill(self) -> None:
        """Kill every instance and the zygote at once, for a server that is stopping."""
        for instance in list(self._instances):
            instance.kill()
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None

    def _stop_if_empty(self) -> None:
        if self.retiring and not self._instances and not self._starting:
            if self._zygote is not None:
                self._zygote.stop()
                self._zygote = None
            self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # Handing out instances

    async def acquire(self, wait_s: float) -> Lease:
        """Return an instance for one invocation, starting one if needed.

        Raises Throttled when the function is at its cap and `max_queue` calls
        already wait, or when no instance frees up within `wait_s` seconds.
        """
        if self._idle:
            instance = self._idle.pop()
            instance.state = InstanceState.BUSY
            return Lease(instance, False)

        if self.retiring:
            raise Throttled(self.spec.name, "the function is being redeployed")
        if self._may_start():
            return await self._start_on_demand()

        if len(self._waiters) >= self.max_queue:
            self.throttles += 1
            raise Throttled(self.spec.name, f"{self.live_count} instances busy and {len(self._waiters)} calls queued")
        future: asyncio.Future[Instance | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            instance = await asyncio.wait_for(future, wait_s)
        except TimeoutError:
            self.throttles += 1
            raise Throttled(self.spec.name, f"no instance freed up within {wait_s:g} s") from None
        finally:
            if future in self._waiters:
                self._waiters.remove(future)
        if instance is None:
            return await self._start_on_demand()
        return Lease(instance, False)

    def _may_start(self) -> bool:
        cap = self.spec.reserved_concurrency
        if cap is not None and self.live_count >= cap:
            return False
        return self._budget.reserve(self, self.spec.memory_mb)

    async def _start_on_demand(self) -> Lease:
        """Start an instance whose memory is already reserved and hand it out during its init."""
        instance = await self._spawn(provisioned=False)
        return Lease(instance, True)

    async def _start_provisioned(self) -> None:
        if not self._budget.reserve(self, self.spec.memory_mb, evict=True):
            raise Throttled(self.spec.name, "the node's memory budget is full")
        instance = await self._spawn(provisioned=True)
        try:
            outcome = await asyncio.wait_for(instance.wait_ready(), self.settings.init_timeout_s)
        except TimeoutError:
            instance.kill()
            raise
        instance.settle()
        if outcome.ok:
            self.release(instance)

    async def _spawn(self, provisioned: bool) -> Instance:
        self._starting += 1
        try:
            zygote = await self._ensure_zygote()
            log_stream = time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{self.settings.version}]{uuid.uuid4().hex}"
            instance = await zygote.spawn(
                memory_mb=self.spec.memory_mb, provisioned=provisioned, log_stream=log_stream, on_death=self._on_death
            )
        except BaseException:
            self._budget.release(self.spec.memory_mb)
            self._serve_waiters()
            raise
        finally:
            self._starting -= 1
        self._instances.add(instance)
        return instance

    def release(self, instance: Instance) -> None:
        """Take an instance back after its invocation."""
        if instance.state is InstanceState.DEAD:
            return
        if self.retiring:
            self._close(instance)
            return
        instance.idle_since = time.monotonic()
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                instance.state = InstanceState.BUSY
                future.set_result(instance)
                return
        instance.state = InstanceState.IDLE
        self._idle.append(instance)

    def _serve_waiters(self) -> None:
        """Let queued calls start instances now that capacity freed up."""
        while self._waiters and not self.retiring:
            if self._waiters[0].done():
                self._waiters.popleft()
                continue
            if not self._may_start():
                return
            self._waiters.popleft().set_result(None)

    def _on_death(self, instance: Instance) -> None:
        if instance not in self._instances:
            return
        self._instances.discard(instance)
        if instance in self._idle:
            self._idle.remove(instance)
        if not instance.memory_released:
            instance.memory_released = True
            self._budget.release(self.spec.memory_mb)
        if instance.provisioned and not self.retiring:
            self._keep_provisioned()
        self._serve_waiters()
        self._stop_if_empty()

    def _keep_provisioned(self) -> None:
        task = asyncio.get_running_loop().create_task(self._replace_provisioned())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace_provisioned(self) -> None:
        try:
            await self._start_provisioned()
        except (Throttled, ZygoteError, OSError) as error:
            logger.warning("%s: cannot replace a provisioned instance: %s", self.spec.name, error)

    def _close(self, instance: Instance) -> None:
        instance.close()

    # Reaping

    def reap_idle(self, now: float) -> int:
        """Close on-demand instances idle for longer than the keep-alive; return how many."""
        keep_alive = self.spec.keep_alive_s
        expired = [i for i in self._idle if not i.provisioned and now - i.idle_since >= keep_alive]
        for instance in expired:
            self._idle.remove(instance)
            self._close(instance)
        return len(expired)

    def evict_one_idle(self) -> bool:
        """Close the least recently used idle on-demand instance; its memory counts as free at once."""
        for instance in self._idle:  # the bottom of the stack is the coldest
            if not instance.provisioned:
                self._idle.remove(instance)
                instance.memory_released = True
                self._budget.release(self.spec.memory_mb, serve_waiters=False)
                self._close(instance)
                return True
        return False

    def oldest_idle_since(self) -> float | None:
        for instance in self._idle:
            if not instance.provisioned:
                return instance.idle_since
        return None

    def pids(self) -> list[int]:
        return [i.pid for i in self._instances if i.pid is not None]
