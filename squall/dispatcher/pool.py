"""One function version's instances: reuse, cold starts, the cap, the queue and reaping."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Coroutine

from squall.dispatcher.instance import DEFAULT_INIT_TIMEOUT_S, DEFAULT_PROVISIONED_INIT_TIMEOUT_S, Instance, InstanceState
from squall.dispatcher.teardown import Teardown
from squall.dispatcher.zygote import Zygote, ZygoteError
from squall.errors import Throttled
from squall.manifest.spec import FunctionSpec

if TYPE_CHECKING:
    from squall.dispatcher.budget import MemoryBudget
    from squall.dispatcher.limits import MemoryCgroups

logger = logging.getLogger(__name__)

# At most one warning per pool in this many seconds that the memory budget throttles calls.
BUDGET_WARNING_INTERVAL_S = 10.0

# Calls allowed to wait for an instance when a function has no reserved
# concurrency: its instances are bounded by the node's memory budget only.
DEFAULT_MAX_QUEUE = 100
# With reserved concurrency, the queue takes this many calls per instance,
# so a burst far above the cap waits for instances rather than failing.
QUEUE_PER_INSTANCE = 10
# Lambda freezes an execution environment as soon as its invocation ends.
# Squall lets an idle instance run this long first, then freezes it at the
# reaper's next pass, so that an instance in steady use is never stopped.
FREEZE_AFTER_S = 1.0


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
    # The server's data folder, which instances with a mount namespace of their own do not see.
    data_dir: Path | None = None
    init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S
    provisioned_init_timeout_s: float = DEFAULT_PROVISIONED_INIT_TIMEOUT_S


@dataclass(slots=True)
class Lease:
    """An instance handed to one invocation; `cold` when it was started for it and may still be in its init."""

    instance: Instance
    cold: bool


class FunctionPool:
    """Keeps one function version's instances and hands them to invocations."""

    def __init__(
        self,
        spec: FunctionSpec,
        settings: PoolSettings,
        budget: MemoryBudget,
        cgroups: MemoryCgroups,
        teardown: Teardown | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.retiring = False
        self.throttles = 0
        self._budget = budget
        self._cgroups = cgroups
        # The dispatcher shares one teardown between its pools, so that a stopping server can wait for it.
        self._teardown = teardown if teardown is not None else Teardown(cgroups)
        self._zygote: Zygote | None = None
        self._idle: list[Instance] = []  # a stack: the most recently used instance is the warmest
        self._instances: set[Instance] = set()
        self._starting = 0
        self._waiters: collections.deque[asyncio.Future[Instance | None]] = collections.deque()
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Provisioned instances whose memory is reserved and whose process is not forked yet.
        self._provisioned_reserved = 0
        # Set when a provisioned instance failed to start for a reason other
        # than memory, so that a broken function does not restart in a loop.
        self._provisioned_failed = False
        self._short_since: float | None = None  # since when provisioned instances wait for memory
        self._budget_warned_at = -BUDGET_WARNING_INTERVAL_S  # when a throttle last logged that the memory budget was full
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
    def provisioned_failed(self) -> bool:
        """Whether a provisioned instance failed its init; they start again only at the next deploy."""
        return self._provisioned_failed

    @property
    def provisioned_ready(self) -> int:
        """Provisioned instances that finished their init and are alive; fewer than `spec.provisioned` when some are missing."""
        return sum(
            1 for i in self._instances if i.provisioned and i.state in (InstanceState.IDLE, InstanceState.BUSY)
        )

    def _provisioned_count(self) -> int:
        live = sum(1 for i in self._instances if i.provisioned and i.state is not InstanceState.DEAD)
        return live + self._provisioned_reserved

    @property
    def zygote_pid(self) -> int | None:
        """The process id of the running zygote, or None while there is none."""
        if self._zygote is None or not self._zygote.alive:
            return None
        return self._zygote.pid

    # Start and stop

    async def start(self) -> None:
        """Start the zygote and the provisioned instances that fit in the node's memory budget.

        Provisioned instances that do not fit start later, when memory frees up.
        """
        await self._ensure_zygote()
        if self.spec.provisioned:
            await asyncio.gather(*self.start_missing_provisioned())

    async def _ensure_zygote(self) -> Zygote:
        if self._zygote is not None and self._zygote.alive:
            return self._zygote
        config = {
            "root": str(self.spec.code_root(self.settings.root)),
            # The whole code copy, which instances may not change.
            "service_root": str(self.settings.root),
            "function_name": self.spec.name,
            "function_version": self.settings.version,
            "handler": self.spec.handler,
            # The handler relative to the service folder, where requirements are looked up.
            "handler_path": self.spec.handler_path,
            "code_dir": self.spec.code_dir,
            "memory_mb": self.spec.memory_mb,
            "log_group_name": f"/aws/lambda/{self.spec.name}",
            "preload": list(self.settings.preload),
            "tmp_root": str(self.settings.tmp_root),
            "data_dir": str(self.settings.data_dir) if self.settings.data_dir else None,
            "cgroup": self._cgroups.settings(),
        }
        zygote = Zygote(
            name=self.spec.name,
            config=config,
            environment=self.settings.environment,
            root=self.settings.root,
            tmp_root=self.settings.tmp_root,
            teardown=self._teardown,
        )
        await zygote.start()
        self._zygote = zygote
        return zygote

    def retire(self, reason: str = "the function was redeployed while the call waited") -> None:
        """Stop taking invocations; instances stop once their invocation in flight ends."""
        self.retiring = True
        self._budget.short.discard(self)
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
            instance.kill_for_stop()
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

    @property
    def stopped(self) -> bool:
        """True once a retired pool's last instance ended."""
        return self._stopped.is_set()

    # Handing out instances

    async def acquire(self, wait_s: float) -> Lease:
        """Return an instance for one invocation, starting one if needed.

        Raises Throttled when the function is at its cap and `max_queue` calls
        already wait, or when no instance frees up within `wait_s` seconds.
        """
        if self._idle:
            instance = self._idle.pop()
            instance.thaw()
            instance.state = InstanceState.BUSY
            return Lease(instance, False)

        if self.retiring:
            raise Throttled(self.spec.name, "the function is being redeployed")
        if self._may_start():
            return await self._start_on_demand()
        if self.spec.memory_mb > self._budget.limit_mb:
            raise self._throttled(f"memory_mb {self.spec.memory_mb} is more than the whole budget")

        if len(self._waiters) >= self.max_queue:
            raise self._throttled(f"{self.live_count} instances busy and {len(self._waiters)} calls queued")
        future: asyncio.Future[Instance | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._budget.waiting.add(self)
        try:
            instance = await asyncio.wait_for(future, wait_s)
        except TimeoutError:
            raise self._throttled(f"no instance freed up within {wait_s:g} s") from None
        finally:
            if future in self._waiters:
                self._waiters.remove(future)
        if instance is None:
            return await self._start_on_demand()
        return Lease(instance, False)

    def _throttled(self, reason: str) -> Throttled:
        """Count a throttle and describe it; below its own cap, the function waited for the node's memory."""
        self.throttles += 1
        cap = self.spec.reserved_concurrency
        node_limit = cap is None or self.live_count < cap
        if node_limit:
            now = time.monotonic()
            if now - self._budget_warned_at >= BUDGET_WARNING_INTERVAL_S:
                self._budget_warned_at = now
                logger.warning(
                    "throttled a call of %s: the node's memory budget (%d MB) has no room for another %d MB instance "
                    "(%s); raise --memory-budget-mb or lower memory_mb",
                    self.spec.name, self._budget.limit_mb, self.spec.memory_mb, reason,
                )
        return Throttled(self.spec.name, reason, node_limit=node_limit)

    def _may_start(self) -> bool:
        cap = self.spec.reserved_concurrency
        if cap is not None and self.live_count >= cap:
            return False
        return self._budget.reserve(self, self.spec.memory_mb)

    async def _start_on_demand(self) -> Lease:
        """Start an instance whose memory is already reserved and hand it out during its init."""
        instance = await self._spawn(provisioned=False)
        return Lease(instance, True)

    # Provisioned instances

    def start_missing_provisioned(self) -> list[asyncio.Task[None]]:
        """Start the missing provisioned instances that fit in the memory budget; return their tasks.

        Provisioned instances come before idle on-demand ones: the budget
        evicts those, of any function, to make room. What still does not fit
        waits, and the budget calls this again whenever memory frees up.
        """
        if self.retiring or self._provisioned_failed:
            self._budget.short.discard(self)
            return []

        tasks: list[asyncio.Task[None]] = []
        while self._provisioned_count() < self.spec.provisioned:
            if not self._budget.reserve(self, self.spec.memory_mb, evict=True, provisioned=True):
                break
            self._provisioned_reserved += 1
            tasks.append(self._run_task(self._start_provisioned()))

        missing = self.spec.provisioned - self._provisioned_count()
        if missing <= 0:
            self._budget.short.discard(self)
            return tasks
        self._budget.short.add(self)
        if self._short_since is None:
            self._short_since = time.monotonic()
            logger.warning(
                "%s: %d of %d provisioned instances wait for memory: the node's memory budget of %d MB is full"
                " (%d MB in use); they start when instances end",
                self.spec.name, missing, self.spec.provisioned, self._budget.limit_mb, self._budget.used_mb,
            )
        return tasks

    def _run_task(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _start_provisioned(self) -> None:
        """Start one provisioned instance whose memory is already reserved, and wait for its init."""
        try:
            instance = await self._spawn(provisioned=True)
        except (ZygoteError, OSError) as error:
            logger.error("%s: a provisioned instance failed to start: %s", self.spec.name, error)
            return
        finally:
            self._provisioned_reserved -= 1

        # Lambda's limit for a provisioned init: the larger of 130 s and the function's timeout.
        limit_s = max(self.settings.provisioned_init_timeout_s, self.spec.timeout_s)
        try:
            outcome = await asyncio.wait_for(instance.wait_ready(), limit_s)
        except TimeoutError:
            self._provisioned_failed = True
            instance.kill()
            logger.error(
                "%s: a provisioned instance's init timed out after %.2f s; provisioned instances restart at the next deploy",
                self.spec.name, limit_s,
            )
            return
        instance.settle()
        if not outcome.ok:
            self._provisioned_failed = True
            logger.error(
                "%s: a provisioned instance failed its init with %s; provisioned instances restart at the next deploy",
                self.spec.name, outcome.error_type or "an exit",
            )
            return

        self.release(instance)
        if self._short_since is not None and self.provisioned_ready >= self.spec.provisioned:
            logger.info(
                "%s: all %d provisioned instances are up, after %.1f s waiting for memory",
                self.spec.name, self.spec.provisioned, time.monotonic() - self._short_since,
            )
            self._short_since = None

    async def _spawn(self, provisioned: bool) -> Instance:
        self._starting += 1
        try:
            zygote = await self._ensure_zygote()
            log_stream = time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{self.settings.version}]{uuid.uuid4().hex}"
            instance = await zygote.spawn(
                memory_mb=self.spec.memory_mb, provisioned=provisioned, log_stream=log_stream, on_death=self._on_death
            )
        except BaseException:
            if provisioned:
                # Set before the memory goes back, which would start another provisioned instance.
                self._provisioned_failed = True
            self._budget.release(self.spec.memory_mb)
            self._serve_waiters()
            raise
        finally:
            self._starting -= 1
        self._instances.add(instance)
        return instance

    def release(self, instance: Instance) -> None:
        """Take an instance back after its invocation."""
        if instance.state is InstanceState.DEAD or instance not in self._instances:
            return  # it died during the call, and its death already freed its place
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
        if self._budget.short and not instance.provisioned:
            # An idle on-demand instance gives way to missing provisioned ones.
            self._budget.fill_provisioned()
        if self._budget.waiting:
            # Calls of other functions may wait for the memory this idle instance holds.
            self._budget.serve_waiting_calls(self)

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
        # A provisioned instance that had finished its init is replaced before
        # queued calls get its memory. One that failed its init is not, or a
        # broken function would restart in a loop.
        initialised = instance.init_outcome is not None and instance.init_outcome.ok
        if instance.provisioned and initialised and not self.retiring and not self._provisioned_failed:
            self._budget.short.add(self)
        if not instance.memory_released:
            instance.memory_released = True
            self._budget.release(self.spec.memory_mb)
        self._serve_waiters()
        self._stop_if_empty()

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

    def freeze_idle(self, now: float) -> None:
        """Freeze the instances idle for FREEZE_AFTER_S or longer, as Lambda freezes idle execution environments."""
        for instance in self._idle:
            if not instance.frozen and now - instance.idle_since >= FREEZE_AFTER_S:
                instance.freeze()

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
