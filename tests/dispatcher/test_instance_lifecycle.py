"""How instances end: what they leave behind, how long their calls last, provisioned instances under a full budget."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from squall.dispatcher.dispatcher import Dispatcher, Invocation
from squall.manifest.spec import FunctionSpec
from tests.dispatcher.test_dispatcher import POLL_LIMIT_S, call, make_dispatcher, service, wait_until  # noqa: F401

T = TypeVar("T")
MEMORY_LIMITS = ["auto", "rlimit"]  # a cgroup per instance where the host has them, and RLIMIT_AS


def running(pid: int) -> bool:
    """Tell whether a process exists and has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def forked_processes(dispatcher: Dispatcher) -> list[int]:
    """Return the live instances and spares: the running children of the current zygotes."""
    zygotes = {pool.zygote_pid for pool in dispatcher.running_pools()} - {None}
    children = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        state, parent = fields[0], int(fields[1])
        if parent in zygotes and state not in ("Z", "X"):
            children.append(int(stat_path.parent.name))
    return children


def tmp_folders(dispatcher: Dispatcher) -> list[Path]:
    return list((dispatcher.settings.data_dir / "tmp").iterdir())


def instance_cgroups(dispatcher: Dispatcher) -> list[Path]:
    parent = dispatcher.cgroups.parent
    if parent is None or not parent.exists():
        return []
    return [child for child in parent.iterdir() if child.is_dir()]


@dataclass(frozen=True)
class SandboxCounts:
    tmp_folders: int
    cgroups: int
    processes: int  # live instances and spares


def sandbox_counts(dispatcher: Dispatcher) -> SandboxCounts:
    # Folders and cgroups are counted first, so a process forked meanwhile can only raise `processes`.
    tmp = len(tmp_folders(dispatcher))
    cgroups = len(instance_cgroups(dispatcher))
    return SandboxCounts(tmp, cgroups, len(forked_processes(dispatcher)))


async def settle(measure: Callable[[], T], condition: Callable[[T], bool]) -> T:
    """Measure until `condition` is true of a measurement or POLL_LIMIT_S seconds pass, and return the last measurement."""
    deadline = time.monotonic() + POLL_LIMIT_S
    value = measure()
    while not condition(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        value = measure()
    return value


async def poll_until(condition: Callable[[], bool]) -> None:
    """Poll until `condition` is true or POLL_LIMIT_S seconds pass. The caller then asserts what it needs."""
    deadline = time.monotonic() + POLL_LIMIT_S
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def report_duration_ms(log_text: str) -> float:
    match = re.search(r"\tDuration: (\d+\.\d\d) ms\t", log_text)
    assert match is not None, log_text
    return float(match[1])


# Cgroups and TMPDIRs


@pytest.mark.parametrize("memory_limit", MEMORY_LIMITS)
async def test_redeploys_leave_no_old_sandboxes(make_dispatcher: Callable[..., Dispatcher], memory_limit: str) -> None:
    dispatcher = make_dispatcher(memory_limit=memory_limit)
    names = ("a", "b", "c")
    specs = [FunctionSpec(name=name, handler="handlers.count") for name in names]

    # A first deploy and two redeploys, each followed by a cold call of every function.
    for _ in range(3):
        previous = list(dispatcher.pools.values())
        await dispatcher.deploy(service(*specs))
        for name in names:
            await call(dispatcher, name)
        for pool in previous:
            await asyncio.wait_for(pool.wait_stopped(), POLL_LIMIT_S)

    # A spare being forked has its folder and cgroup a moment before its process shows.
    counts = await settle(lambda: sandbox_counts(dispatcher), lambda c: max(c.tmp_folders, c.cgroups) <= c.processes)
    assert counts.processes >= len(names)  # an instance of each function at least
    assert counts.tmp_folders <= counts.processes
    if memory_limit == "auto" and dispatcher.cgroups.available:
        assert counts.cgroups <= counts.processes


@pytest.mark.parametrize("memory_limit", MEMORY_LIMITS)
async def test_shutdown_removes_sandboxes(make_dispatcher: Callable[..., Dispatcher], memory_limit: str) -> None:
    dispatcher = make_dispatcher(memory_limit=memory_limit)
    await dispatcher.deploy(service(FunctionSpec(name="count", handler="handlers.count", provisioned=1)))
    await call(dispatcher, "count")
    parent = dispatcher.cgroups.parent

    await dispatcher.close()

    assert tmp_folders(dispatcher) == []
    if parent is not None:
        assert not parent.exists()


# Processes that a handler forks


ENDINGS = ["reaped", "timeout", "crash", "redeploy", "shutdown"]
CHILD_SLEEP_S = 30  # how long the child of handlers.fork_child sleeps


@pytest.mark.parametrize("new_session", [False, True], ids=["same-group", "new-session"])
@pytest.mark.parametrize("memory_limit", MEMORY_LIMITS)
@pytest.mark.parametrize("ending", ENDINGS)
async def test_forked_child_ends_with_instance(
    make_dispatcher: Callable[..., Dispatcher], outside_tmp: Path, memory_limit: str, ending: str, new_session: bool
) -> None:
    dispatcher = make_dispatcher(memory_limit=memory_limit, reap_interval_s=0.05)
    # Only the timeout case needs a short timeout; the others get room for a loaded machine.
    spec = FunctionSpec(name="fork", handler="handlers.fork_child", keep_alive_s=1, timeout_s=1 if ending == "timeout" else 10)
    await dispatcher.deploy(service(spec))
    pid_file = outside_tmp / "child.pid"
    event = {"pid_file": str(pid_file), "seconds": 5 if ending == "timeout" else 0, "crash": ending == "crash",
             "new_session": new_session}

    started = time.monotonic()
    result = await dispatcher.invoke(Invocation("fork", orjson.dumps(event), "test"))
    elapsed_s = time.monotonic() - started
    child = int(pid_file.read_text())

    if ending in ("timeout", "crash"):
        # The call ends with the instance, not 30 s later with the child that shares its socket.
        assert elapsed_s < CHILD_SLEEP_S / 2
    if ending == "timeout":
        assert result.error_type == "Sandbox.Timedout"
    elif ending == "crash":
        assert result.error_type == "Runtime.ExitError"
    else:
        # Between invocations the child lives on, as in Lambda's frozen execution environment.
        assert result.error_type is None
        assert running(child)

    pool = dispatcher.pools["fork"]
    if ending == "reaped":
        await wait_until(lambda: pool.idle_count == 0)
    elif ending == "redeploy":
        await dispatcher.deploy(service(spec))
        await asyncio.wait_for(pool.wait_stopped(), POLL_LIMIT_S)
    elif ending == "shutdown":
        await dispatcher.close()

    await poll_until(lambda: not running(child))
    assert not running(child)


# Durations and the timeout line


async def hold_loop(stop: asyncio.Event) -> None:
    """Hold the event loop 100 ms at a time, as a server busy with other work does."""
    while not stop.is_set():
        time.sleep(0.1)
        await asyncio.sleep(0)


@pytest.mark.parametrize("busy_server", [False, True])
async def test_cold_call_duration_counts_handler(make_dispatcher: Callable[..., Dispatcher], busy_server: bool) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="sleep", handler="handlers.sleep")))

    # On a busy server the ready frame and the result of a cold call often arrive together.
    stop = asyncio.Event()
    holder = asyncio.create_task(hold_loop(stop)) if busy_server else None
    try:
        for _ in range(2):
            await call(dispatcher, "sleep", {"seconds": 0.05})
    finally:
        stop.set()
        if holder is not None:
            await holder

    cold, warm = dispatcher.sinks.logs
    assert [record.cold for record in dispatcher.sinks.records] == [True, False]
    assert report_duration_ms(cold.text) >= 50
    assert report_duration_ms(warm.text) >= 50
    assert dispatcher.sinks.records[0].duration_ms >= 50


async def test_timeout_line_has_milliseconds(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="slow", handler="handlers.sleep", timeout_s=1)))

    result = await dispatcher.invoke(Invocation("slow", b'{"seconds": 5}', "test"))

    assert result.error_type == "Sandbox.Timedout"
    line = rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {re.escape(result.request_id)} Task timed out after 1\.00 seconds$"
    assert re.search(line, dispatcher.sinks.logs[-1].text, re.MULTILINE), dispatcher.sinks.logs[-1].text


# Provisioned instances under a full memory budget


async def test_provisioned_retried_when_memory_frees(
    make_dispatcher: Callable[..., Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="squall.dispatcher.pool")
    dispatcher = make_dispatcher(memory_budget_mb=512)
    await dispatcher.deploy(service(FunctionSpec(name="a", handler="handlers.count", memory_mb=256), name="ondemand"))
    await call(dispatcher, "a")
    provisioned = FunctionSpec(name="p", handler="handlers.count", memory_mb=128, provisioned=2)
    await dispatcher.deploy(service(provisioned, name="prov"))

    # Raised to 256 MB, both instances fit only once the 128 MB ones of the old version end.
    await dispatcher.deploy(service(FunctionSpec(name="p", handler="handlers.count", memory_mb=256, provisioned=2), name="prov"))
    pool = dispatcher.pools["p"]
    await poll_until(lambda: pool.provisioned_ready == 2)

    assert pool.provisioned_ready == 2
    assert dispatcher.pools["a"].idle_count == 0  # evicted for a provisioned instance
    assert dispatcher.budget.used_mb <= 512
    assert "p: 1 of 2 provisioned instances wait for memory" in caplog.text
    assert "p: all 2 provisioned instances are up" in caplog.text


async def test_provisioned_evicts_instance_gone_idle(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(memory_budget_mb=512)
    await dispatcher.deploy(service(FunctionSpec(name="a", handler="handlers.sleep", memory_mb=256), name="ondemand"))
    running_call = asyncio.create_task(call(dispatcher, "a", {"seconds": 1.0}))
    await wait_until(lambda: dispatcher.pools["a"].busy_count == 1)

    # The busy instance cannot be evicted, so one provisioned instance waits for memory.
    provisioned = FunctionSpec(name="p", handler="handlers.count", memory_mb=256, provisioned=2)
    await dispatcher.deploy(service(provisioned, name="prov"))
    pool = dispatcher.pools["p"]
    assert pool.provisioned_ready == 1

    await running_call
    await poll_until(lambda: pool.provisioned_ready == 2)
    assert pool.provisioned_ready == 2
    assert dispatcher.pools["a"].idle_count == 0
