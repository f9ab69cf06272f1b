"""The dispatcher with real zygotes and instances, without the HTTP server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import resource
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from squall.dispatcher.dispatcher import Dispatcher, Invocation, NodeSettings, billed_ms
from squall.dispatcher.instance import describe_exit
from squall.errors import FunctionNotFound, Throttled
from squall.manifest.spec import FunctionSpec, ServiceSpec
from squall.metering.records import InvocationRecord, LogEntry, Outcome

APP = Path(__file__).parent / "apps" / "basic"
POLL_LIMIT_S = 20.0


def service(*functions: FunctionSpec, name: str = "basic") -> ServiceSpec:
    return ServiceSpec(
        service=name, root=APP, manifest_path=APP / "squall.yml", functions={f.name: f for f in functions}
    )


class Sinks:
    def __init__(self) -> None:
        self.records: list[InvocationRecord] = []
        self.logs: list[LogEntry] = []


@pytest.fixture
async def make_dispatcher(tmp_path: Path) -> AsyncIterator[Callable[..., Dispatcher]]:
    made: list[Dispatcher] = []

    def make(**settings: object) -> Dispatcher:
        sinks = Sinks()
        dispatcher = Dispatcher(NodeSettings(data_dir=tmp_path / f"d{len(made)}", **settings), sinks.records.append, sinks.logs.append)
        dispatcher.sinks = sinks  # type: ignore[attr-defined]
        dispatcher.start()
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.close()


async def call(dispatcher: Dispatcher, name: str, payload: dict | None = None) -> dict:
    result = await dispatcher.invoke(Invocation(name, orjson.dumps(payload or {}), "test"))
    assert result.error_type is None, result.payload
    return orjson.loads(result.payload)


async def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + POLL_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("duration_ms", "init_ms", "expected"),
    [(0.2, None, 1), (1.0, None, 1), (1.01, None, 2), (10.5, 2.2, 13), (0.0, 0.0, 1)],
)
def test_billed_ms_rounds_up(duration_ms: float, init_ms: float | None, expected: int) -> None:
    assert billed_ms(duration_ms, init_ms) == expected


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (0, "Runtime exited without providing a reason"),
        (3 << 8, "Runtime exited with error: exit status 3"),
        (signal.SIGKILL, "Runtime exited with error: signal: killed"),
        (signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
        (None, "Runtime exited without providing a reason"),
    ],
)
def test_describe_exit_words_like_lambda(status: int | None, message: str) -> None:
    assert describe_exit(status) == message


async def test_warm_instance_is_reused(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="count", handler="handlers.count")))

    first = await call(dispatcher, "count")
    second = await call(dispatcher, "count")

    assert second["pid"] == first["pid"]
    assert second["calls"] == 2
    assert [r.cold for r in dispatcher.sinks.records] == [True, False]


async def test_unknown_function_is_not_found(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    with pytest.raises(FunctionNotFound):
        await dispatcher.invoke(Invocation("nope", b"{}", "test"))


async def test_environment_is_not_inherited(make_dispatcher: Callable[..., Dispatcher], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUALL_SERVER_ONLY", "leak")
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="env", handler="handlers.environment", environment={"COLOUR": "blue"}, memory_mb=256)
    await dispatcher.deploy(service(spec))

    environment = await call(dispatcher, "env")

    assert "SQUALL_SERVER_ONLY" not in environment
    assert environment["COLOUR"] == "blue"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_LAMBDA_LOG_STREAM_NAME"].split("]")[0].endswith("[$LATEST")
    assert Path(environment["TMPDIR"]).is_dir()
    # Credentials in place of an execution role's, for AWS SDK clients.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert environment[name]
    assert environment["AWS_ACCESS_KEY"] == environment["AWS_ACCESS_KEY_ID"]


async def test_manifest_may_override_tz_lang_and_path(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    variables = {"TZ": "Europe/Paris", "LANG": "C.UTF-8", "PATH": "/opt/tools/bin:/usr/bin:/bin"}
    await dispatcher.deploy(service(FunctionSpec(name="env", handler="handlers.environment", environment=variables)))

    environment = await call(dispatcher, "env")

    assert {name: environment[name] for name in variables} == variables


async def test_defaults_of_tz_lang_and_path(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="env", handler="handlers.environment")))

    environment = await call(dispatcher, "env")

    assert environment["TZ"] == ":UTC"
    assert environment["LANG"] == "en_US.UTF-8"
    assert environment["PATH"].endswith(":/usr/local/bin:/usr/bin:/bin")
    assert environment["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"


async def test_init_output_comes_once_before_start(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="loud", handler="init_output.handler")))

    await call(dispatcher, "loud")
    await call(dispatcher, "loud")

    cold, warm = (entry.text for entry in dispatcher.sinks.logs)
    init_start, _, cold = cold.partition("\n")
    # As on Lambda, a new instance's log begins with the runtime version.
    assert re.fullmatch(r"INIT_START Runtime Version: python:3\.\d+\.v\d+\tRuntime Version ARN: "
                        r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}", init_start)
    assert cold.startswith("loading: first line\nloading: no newline at the end\nSTART RequestId: ")
    assert cold.count("handling") == 1
    assert "\nhandling\nEND RequestId: " in cold
    assert warm.startswith("START RequestId: ")
    assert "loading" not in warm


async def test_log_cap_cuts_at_character(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="big", handler="init_output.big_handler")))

    await call(dispatcher, "big")

    text = dispatcher.sinks.logs[0].text
    assert "\ufffd" not in text
    # The start and the end are kept: the end is where a failing handler's error is.
    assert re.search(r"✓\n\[squall: \d+ of 600015 bytes of output cut here\]\n✓", text)
    assert "✓✓\nthe last line\nEND RequestId" in text


async def test_reserved_concurrency_throttles_past_queue(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", reserved_concurrency=1, max_queue=0)
    await dispatcher.deploy(service(spec))

    running = asyncio.create_task(call(dispatcher, "sleep", {"seconds": 1.0}))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)

    with pytest.raises(Throttled):
        await dispatcher.invoke(Invocation("sleep", b'{"seconds": 0}', "test"))
    await running
    assert dispatcher.sinks.records[0].outcome is Outcome.THROTTLED


@pytest.mark.parametrize(("reserved", "node_limit"), [(1, False), (None, True)], ids=["reserved cap", "memory budget"])
async def test_throttle_names_the_limit(
    make_dispatcher: Callable[..., Dispatcher], caplog: pytest.LogCaptureFixture, reserved: int | None, node_limit: bool
) -> None:
    # The budget fits one 128 MB instance; the function may have its own cap of one too.
    dispatcher = make_dispatcher(memory_budget_mb=128)
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", reserved_concurrency=reserved, max_queue=0)
    await dispatcher.deploy(service(spec))

    running = asyncio.create_task(call(dispatcher, "sleep", {"seconds": 1.0}))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)
    with pytest.raises(Throttled) as raised:
        await dispatcher.invoke(Invocation("sleep", b'{"seconds": 0}', "test"))
    await running

    assert raised.value.node_limit is node_limit
    assert ("memory budget (128 MB) has no room" in caplog.text) is node_limit


async def test_queued_call_waits_for_instance(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", reserved_concurrency=1, max_queue=5)
    await dispatcher.deploy(service(spec))

    results = await asyncio.gather(*(call(dispatcher, "sleep", {"seconds": 0.2}) for _ in range(4)))

    assert len({r["pid"] for r in results}) == 1
    assert sum(r.cold for r in dispatcher.sinks.records) == 1


async def test_idle_instance_reaped_after_keep_alive(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(reap_interval_s=0.05)
    await dispatcher.deploy(service(FunctionSpec(name="count", handler="handlers.count", keep_alive_s=1)))

    first = await call(dispatcher, "count")
    assert dispatcher.pools["count"].idle_count == 1
    await wait_until(lambda: dispatcher.pools["count"].idle_count == 0)

    second = await call(dispatcher, "count")
    assert second["pid"] != first["pid"]


async def test_provisioned_instance_survives_keep_alive_and_crash(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(reap_interval_s=0.05)
    spec = FunctionSpec(name="count", handler="handlers.count", keep_alive_s=1, provisioned=1)
    await dispatcher.deploy(service(spec))
    pool = dispatcher.pools["count"]
    assert pool.idle_count == 1

    first = await call(dispatcher, "count")
    await asyncio.sleep(1.5)  # longer than the keep-alive: a provisioned instance must stay
    assert pool.idle_count == 1
    again = await call(dispatcher, "count")
    assert again["pid"] == first["pid"]

    os.kill(first["pid"], signal.SIGKILL)
    await wait_until(lambda: pool.idle_count == 1 and first["pid"] not in pool.pids())
    replaced = await call(dispatcher, "count")
    assert replaced["pid"] != first["pid"]


async def test_memory_budget_evicts_idle_instance_of_other_function(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(memory_budget_mb=256)
    await dispatcher.deploy(
        service(*(FunctionSpec(name=n, handler="handlers.count", memory_mb=128) for n in ("a", "b", "c")))
    )

    await call(dispatcher, "a")
    await call(dispatcher, "b")
    assert dispatcher.budget.used_mb == 256
    await call(dispatcher, "c")

    assert dispatcher.pools["a"].idle_count == 0  # the least recently used one went
    assert dispatcher.pools["b"].idle_count == 1
    assert dispatcher.pools["c"].idle_count == 1
    assert dispatcher.budget.used_mb <= 256


async def test_crash_replaces_instance(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(
        service(FunctionSpec(name="crash", handler="handlers.crash"), FunctionSpec(name="count", handler="handlers.count"))
    )

    result = await dispatcher.invoke(Invocation("crash", b"{}", "test"))

    assert result.error_type == "Runtime.ExitError"
    assert orjson.loads(result.payload)["errorMessage"].endswith("Runtime exited with error: exit status 1")
    # The instance died before reporting its peak memory again, so the last report is used, not the limit.
    assert 0 < dispatcher.sinks.records[-1].max_memory_mb < 128
    # The log gives the reason between START and END, as Lambda's does.
    log = dispatcher.sinks.logs[-1].text
    assert f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 1\nRuntime.ExitError\nEND" in log
    await wait_until(lambda: dispatcher.pools["crash"].live_count == 0)
    assert (await call(dispatcher, "count"))["calls"] == 1


async def test_runtime_failures_are_told_on_the_server_log(
    make_dispatcher: Callable[..., Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(
        service(FunctionSpec(name="crash", handler="handlers.crash"), FunctionSpec(name="fail", handler="handlers.fail"))
    )

    with caplog.at_level(logging.WARNING, logger="squall.dispatcher.dispatcher"):
        await dispatcher.invoke(Invocation("fail", b"{}", "test"))
        await dispatcher.invoke(Invocation("crash", b"{}", "test"))
        await dispatcher.invoke(Invocation("crash", b"{}", "test"))

    # The handler's own exception is left to its log, and a crash is logged once per interval.
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "function crash failed with Runtime.ExitError: Runtime exited with error: exit status 1"
        " (`squall logs crash` shows the whole log)"
    ]


async def test_output_between_calls_reaches_next_log(make_dispatcher: Callable[..., Dispatcher], outside_tmp: Path) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="print_later", handler="handlers.print_later")))
    done = outside_tmp / "done"

    await call(dispatcher, "print_later", {"done": str(done)})
    await wait_until(done.exists)
    await call(dispatcher, "print_later", {"done": str(outside_tmp / "second")})

    first, second = (entry.text for entry in dispatcher.sinks.logs)
    assert "printed by the call" in first
    assert "printed by a thread after the call" not in first
    assert "printed by a thread after the call\nprinted by the call" in second


@pytest.mark.parametrize(
    ("environment", "present", "absent"),
    [
        ({}, ["[WARNING]\t", "\ta warning line\n"], ["an info line"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, ["[DEBUG]\t", "\ta debug line\n"], []),
        ({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, ['"level": "INFO"', '"message": "an info line"'], ["a debug line", "[WARNING]"]),
    ],
    ids=["text", "text-debug", "json"],
)
async def test_logging_follows_lambda_log_settings(
    make_dispatcher: Callable[..., Dispatcher], environment: dict[str, str], present: list[str], absent: list[str]
) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="log_levels", handler="handlers.log_levels", environment=environment)))

    await call(dispatcher, "log_levels")

    text = dispatcher.sinks.logs[-1].text
    for part in present:
        assert part in text
    for part in absent:
        assert part not in text


async def test_json_log_lines_carry_request_and_error(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(FunctionSpec(name="log_levels", handler="handlers.log_levels", environment=environment)))

    result = await dispatcher.invoke(Invocation("log_levels", b"{}", "test"))

    lines = [json.loads(line) for line in dispatcher.sinks.logs[-1].text.splitlines()]
    error = next(line for line in lines if line.get("message") == "it failed")
    assert error["requestId"] == result.request_id
    assert (error["level"], error["logger"], error["errorType"], error["errorMessage"]) == ("ERROR", "app", "ValueError", "a logged error")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", error["timestamp"])


@pytest.mark.skipif(os.geteuid() != 0, reason="a private /tmp needs a mount namespace, which needs root")
async def test_each_instance_has_its_own_tmp(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="tmp_note", handler="handlers.tmp_note")))

    # Two calls at once run on two instances, each writing the same /tmp name.
    first, second = await asyncio.gather(
        call(dispatcher, "tmp_note", {"note": "first"}), call(dispatcher, "tmp_note", {"note": "second"})
    )

    assert (first["read"], second["read"]) == ("first", "second")
    # /tmp is the instance's TMPDIR, and the host's /tmp never saw the file.
    assert first["tmpdir_files"] == second["tmpdir_files"] == ["squall-test-note.txt"]
    assert not os.path.exists("/tmp/squall-test-note.txt")
    # So is /dev/shm, which multiprocessing's semaphores and shared memory use.
    assert (first["shm_read"], second["shm_read"]) == ("first", "second")
    assert not os.path.exists("/dev/shm/squall-test-note.txt")


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only code folder needs a mount namespace, which needs root")
async def test_code_folder_is_read_only(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="write_code_folder", handler="handlers.write_code_folder")))

    errors = await call(dispatcher, "write_code_folder")

    # As Lambda's /var/task, the deployed code cannot be changed by a handler.
    assert errors == {"module": "Read-only file system", "cwd": "Read-only file system"}
    assert not (APP / "written.txt").exists()


async def test_json_log_handler_error_one_line(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(FunctionSpec(name="fail", handler="handlers.fail", environment=environment)))

    result = await dispatcher.invoke(Invocation("fail", b"{}", "test"))

    text = dispatcher.sinks.logs[-1].text
    assert "Traceback" not in text
    # The one line between the platform's start and report objects.
    init_start, start, error, report = (json.loads(line) for line in text.splitlines())
    assert (init_start["type"], start["type"], report["type"]) == ("platform.initStart", "platform.start", "platform.report")
    assert (error["level"], error["errorType"], error["requestId"]) == ("ERROR", result.error_type, result.request_id)
    assert error["stackTrace"]


async def test_memory_waiter_starts_on_idle_instance(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(memory_budget_mb=256)
    await dispatcher.deploy(service(
        FunctionSpec(name="big", handler="handlers.sleep", memory_mb=128),
        FunctionSpec(name="small", handler="handlers.sleep", memory_mb=128, timeout_s=30),
    ))

    # Two calls of big fill the budget; small's call waits for memory.
    busy = [asyncio.create_task(call(dispatcher, "big", {"seconds": 1.0})) for _ in range(2)]
    await wait_until(lambda: dispatcher.pools["big"].busy_count == 2)
    started = time.monotonic()
    small = asyncio.create_task(call(dispatcher, "small", {"seconds": 0}))
    await asyncio.gather(*busy)

    # The idle big instances give their memory to the waiting call long before its 30 s wait ends.
    await asyncio.wait_for(small, POLL_LIMIT_S)
    assert time.monotonic() - started < 10


async def test_function_larger_than_budget_throttles_without_evicting(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(memory_budget_mb=256)
    await dispatcher.deploy(service(
        FunctionSpec(name="count", handler="handlers.count", memory_mb=128),
        FunctionSpec(name="huge", handler="handlers.count", memory_mb=512, timeout_s=30),
    ))
    await call(dispatcher, "count")

    started = time.monotonic()
    with pytest.raises(Throttled) as raised:
        await dispatcher.invoke(Invocation("huge", b"{}", "test"))

    assert time.monotonic() - started < 5
    assert "more than the whole budget" in str(raised.value)
    assert dispatcher.pools["count"].idle_count == 1


async def test_redeploy_lets_call_in_flight_finish(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep")
    await dispatcher.deploy(service(spec))

    running = asyncio.create_task(call(dispatcher, "sleep", {"seconds": 2}))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)
    old_pool = dispatcher.pools["sleep"]
    await dispatcher.deploy(service(spec))

    assert dispatcher.pools["sleep"] is not old_pool
    # Listings still count the call running on the replaced pool, until it ends.
    assert sum(pool.busy_count for pool in dispatcher.function_pools("sleep")) == 1
    assert "pid" in await running
    await asyncio.wait_for(old_pool.wait_stopped(), POLL_LIMIT_S)
    assert old_pool not in dispatcher.function_pools("sleep")


async def test_close_kills_calls_on_retired_pool(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", timeout_s=30)
    await dispatcher.deploy(service(spec))
    running = asyncio.create_task(dispatcher.invoke(Invocation("sleep", orjson.dumps({"seconds": 20}), "test")))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)
    old_pool = dispatcher.pools["sleep"]
    await dispatcher.deploy(service(spec))

    # A server that stops while a redeploy's old pool still runs a call ends that call too,
    # instead of leaving its instance to the end of the call.
    await asyncio.wait_for(dispatcher.close(), 4.0)

    assert old_pool.stopped
    assert dispatcher.teardown.pending_count == 0
    result = await asyncio.wait_for(running, POLL_LIMIT_S)
    assert result.error_type is not None


async def test_cancelled_call_instance_not_reused(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="sleep", handler="handlers.sleep", timeout_s=30)))
    running = asyncio.create_task(call(dispatcher, "sleep", {"seconds": 20}))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    after = await dispatcher.invoke(Invocation("sleep", orjson.dumps({"seconds": 0}), "test"))

    # The next call runs on a new instance, not on the killed one.
    assert after.error_type is None, after.payload


async def test_failed_import_reports_its_own_memory(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="broken", handler="broken_import.handler", memory_mb=512)))

    result = await dispatcher.invoke(Invocation("broken", b"{}", "test"))

    assert result.error_type == "Runtime.ImportModuleError"
    # The record carries the peak memory the instance reported, not the 512 MB limit.
    max_memory_mb = dispatcher.sinks.records[-1].max_memory_mb
    assert max_memory_mb > 0
    assert max_memory_mb < 512


async def test_redeploy_moves_waiting_calls(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", reserved_concurrency=1, timeout_s=10)
    await dispatcher.deploy(service(spec))

    # One call runs on the only instance allowed, and three more wait for it.
    calls = [asyncio.create_task(call(dispatcher, "sleep", {"seconds": 0.3})) for _ in range(4)]
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)
    await dispatcher.deploy(service(spec))
    results = await asyncio.gather(*calls)

    assert all("pid" in result for result in results)
    assert [record.outcome for record in dispatcher.sinks.records].count(Outcome.THROTTLED) == 0


@pytest.mark.parametrize("memory_limit", ["auto", "rlimit"])
async def test_memory_hog_fails_and_instance_is_replaced(make_dispatcher: Callable[..., Dispatcher], memory_limit: str) -> None:
    dispatcher = make_dispatcher(memory_limit=memory_limit)
    await dispatcher.deploy(
        service(FunctionSpec(name="hog", handler="handlers.hog", memory_mb=128, timeout_s=30))
    )

    failed = await dispatcher.invoke(Invocation("hog", b'{"mb": 1024}', "test", log_tail=True))
    assert failed.error_type == "Runtime.OutOfMemory"
    assert failed.function_error == "Unhandled"
    # Logged alike whether the kernel killed the instance or the address-space limit stopped it.
    log = (failed.log_tail or b"").decode()
    assert "Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory\n" in log
    assert "Status: error\tError Type: Runtime.OutOfMemory" in log

    await wait_until(lambda: dispatcher.pools["hog"].live_count == 0)
    small = await call(dispatcher, "hog", {"mb": 8})
    assert small == 8


async def test_init_that_hangs_times_out(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    await dispatcher.deploy(
        service(FunctionSpec(name="hang", handler="hang_at_import.handler"), FunctionSpec(name="count", handler="handlers.count"))
    )

    result = await dispatcher.invoke(Invocation("hang", b"{}", "test"))

    # Past its init limit the init runs again inside the call, which then times out as a call does.
    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in orjson.loads(result.payload)["errorMessage"]
    log = dispatcher.sinks.logs[-1].text
    assert "INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout\n" in log
    assert "Task timed out after 3.00 seconds" in log
    assert log.rstrip().endswith("Status: timeout")
    record = dispatcher.sinks.records[-1]
    assert record.init_ms == 1000.0
    assert 3000.0 <= record.duration_ms < 4000.0
    await wait_until(lambda: dispatcher.pools["hang"].live_count == 0)
    assert (await call(dispatcher, "count"))["calls"] == 1


async def test_long_init_finishes_within_timeout(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    await dispatcher.deploy(service(FunctionSpec(name="slow", handler="slow_at_import.handler", timeout_s=5)))

    result = await dispatcher.invoke(Invocation("slow", b"{}", "test"))
    again = await dispatcher.invoke(Invocation("slow", b"{}", "test"))

    # As on Lambda, an init past its limit is retried inside the call, with the call's timeout.
    assert result.error_type is None, result.payload
    assert orjson.loads(result.payload) == "ready"
    # The whole second init counts toward the call's duration.
    assert dispatcher.sinks.records[0].duration_ms >= 1400.0
    assert again.error_type is None
    assert dispatcher.sinks.records[1].cold is False


async def test_long_init_shortens_remaining_time(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    await dispatcher.deploy(service(FunctionSpec(name="slow", handler="slow_remaining.handler", timeout_s=5)))

    result = await dispatcher.invoke(Invocation("slow", b"{}", "test"))

    assert result.error_type is None, result.payload
    # The second init took about 1.5 s of the call's 5 s.
    assert 3000 <= orjson.loads(result.payload) <= 3600
    record = dispatcher.sinks.records[-1]
    # The first init is billed up to its limit, and the second one is in the duration.
    assert record.init_ms == 1000.0
    assert 1400 <= record.duration_ms
    assert record.billed_ms >= 1000 + 1400
    log = dispatcher.sinks.logs[-1].text
    assert "INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout\n" in log
    # The REPORT line has no Init Duration: the second init is part of the call.
    report = log.rstrip().splitlines()[-1]
    assert report.startswith("REPORT RequestId:")
    assert "Init Duration" not in report
    assert "Status" not in report


async def test_long_init_retried_at_concurrency_cap(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    spec = FunctionSpec(name="slow", handler="slow_at_import.handler", timeout_s=5, reserved_concurrency=1, max_queue=0)
    await dispatcher.deploy(service(spec))

    result = await dispatcher.invoke(Invocation("slow", b"{}", "test"))

    # The killed first instance gives back the function's one place before the retry takes it.
    assert result.error_type is None, result.payload
    assert orjson.loads(result.payload) == "ready"


async def test_long_init_runs_module_again(make_dispatcher: Callable[..., Dispatcher], outside_tmp: Path) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    runs = outside_tmp / "runs.txt"
    spec = FunctionSpec(name="slow", handler="slow_counted.handler", timeout_s=5, environment={"INIT_RUNS_FILE": str(runs)})
    await dispatcher.deploy(service(spec))

    result = await dispatcher.invoke(Invocation("slow", b"{}", "test"))

    # Lambda starts the init over in a new environment, so module-level code runs twice.
    assert result.error_type is None, result.payload
    assert orjson.loads(result.payload) == 2


async def test_failed_init_writes_init_report(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="broken", handler="broken_import.handler")))

    result = await dispatcher.invoke(Invocation("broken", b"{}", "test"))

    assert result.error_type == "Runtime.ImportModuleError"
    log = dispatcher.sinks.logs[-1].text
    lines = log.splitlines()
    init_report = [line for line in lines if line.startswith("INIT_REPORT")]
    assert len(init_report) == 1
    assert init_report[0].endswith("\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError")
    # It follows the init's own output and comes before START.
    assert lines.index(init_report[0]) < next(i for i, line in enumerate(lines) if line.startswith("START"))
    assert lines[-1].endswith("Status: error\tError Type: Runtime.ImportModuleError")
    assert "Init Duration" not in lines[-1]


async def test_killed_zygote_is_restarted(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(reap_interval_s=0.05)
    await dispatcher.deploy(service(FunctionSpec(name="count", handler="handlers.count", keep_alive_s=1)))
    pool = dispatcher.pools["count"]
    first = pool.zygote_pid
    assert first is not None

    os.kill(first, signal.SIGKILL)
    await wait_until(lambda: pool.zygote_pid is None)

    assert (await call(dispatcher, "count"))["calls"] == 1
    assert pool.zygote_pid not in (None, first)


REPORT_LINE = (
    r"REPORT RequestId: {id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t{init}\n"
)


@pytest.mark.parametrize(
    ("handler", "output"),
    [
        ("handlers.count", ""),
        ("handlers.shout", "hello\n"),
        ("handlers.fail", "[ERROR] ValueError: bad input\nTraceback (most recent call last):\n"),
    ],
)
async def test_log_text_frames_output(make_dispatcher: Callable[..., Dispatcher], handler: str, output: str) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="logs", handler=handler)))

    # The first call is cold and reports its init, and the second is warm.
    for _ in range(2):
        await dispatcher.invoke(Invocation("logs", b"{}", "test"))

    cold, warm = dispatcher.sinks.logs
    for entry, init in ((cold, r"Init Duration: \d+\.\d\d ms\t"), (warm, "")):
        request_id = entry.request_id
        start = f"START RequestId: {request_id} Version: $LATEST\n"
        assert start in entry.text
        body = entry.text[entry.text.index(start) + len(start) :]
        assert body.startswith(output)
        assert f"END RequestId: {request_id}\n" in body
        report = REPORT_LINE.format(id=re.escape(request_id), init=init)
        assert re.search(report + r"\Z", entry.text), entry.text
    assert warm.text.startswith("START")


@pytest.mark.parametrize(
    "payload",
    [
        b'  {"padded": true}  ',
        '\ufeff{"bom": "utf-8"}'.encode("utf-8"),
        '{"wide": "utf-16"}'.encode("utf-16"),
        b'{"big": 123456789012345678901234567890, "nan": NaN}',
    ],
)
async def test_event_decodes_as_json_loads(make_dispatcher: Callable[..., Dispatcher], payload: bytes) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="echo", handler="handlers.echo")))

    result = await dispatcher.invoke(Invocation("echo", payload, "test", qualifier=None))

    assert result.error_type is None, result.payload
    echoed = json.loads(result.payload)
    assert json.dumps(echoed["event"]) == json.dumps(json.loads(payload))
    assert echoed["arn"] == dispatcher.arn("echo")


async def test_invalid_event_is_unmarshal_error(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="echo", handler="handlers.echo")))

    result = await dispatcher.invoke(Invocation("echo", b'{"a": 1} trailing', "test"))

    assert result.error_type == "Runtime.UnmarshalError"
    error = json.loads(result.payload)
    assert error["errorMessage"] == "Unable to unmarshal input: Extra data: line 1 column 10 (char 9)"
    assert error["requestId"] == result.request_id


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux-only")
async def test_instances_run_under_sched_batch(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="policy", handler="handlers.scheduling_policy")))

    result = await dispatcher.invoke(Invocation("policy", b"{}", "test"))

    assert orjson.loads(result.payload) == os.SCHED_BATCH


async def test_reserved_concurrency_counts_every_version(make_dispatcher: Callable[..., Dispatcher]) -> None:
    # Lambda's reserved concurrency covers the function with all its versions.
    dispatcher = make_dispatcher()
    spec = FunctionSpec(name="sleep", handler="handlers.sleep", reserved_concurrency=1, max_queue=0, timeout_s=10)
    await dispatcher.deploy(service(spec))
    dispatcher.versions = OneVersion(service(spec))

    running = asyncio.create_task(call(dispatcher, "sleep", {"seconds": 3}))
    await wait_until(lambda: dispatcher.pools["sleep"].busy_count == 1)
    with pytest.raises(Throttled):
        await dispatcher.invoke(Invocation("sleep", b'{"seconds": 0}', "test", qualifier="1"))
    await running
    version_one = await dispatcher.invoke(Invocation("sleep", b'{"seconds": 0}', "test", qualifier="1"))

    assert version_one.error_type is None
    assert version_one.executed_version == "1"


class OneVersion:
    """A stand-in version store whose only published version, 1, has the spec of $LATEST."""

    def __init__(self, deployed: ServiceSpec) -> None:
        self.deployed = deployed

    def resolve(self, function: str, qualifier: str | None) -> str:
        if qualifier != "1":
            raise LookupError(qualifier)
        return "1"

    def load(self, function: str, version: str) -> ServiceSpec:
        return self.deployed


async def test_json_log_format_platform_lines(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(
        FunctionSpec(name="log_levels", handler="handlers.log_levels", environment=environment, memory_mb=256)
    ))

    first = await dispatcher.invoke(Invocation("log_levels", b"{}", "test"))
    await dispatcher.invoke(Invocation("log_levels", b"{}", "test"))

    cold, warm = (entry.text for entry in dispatcher.sinks.logs[-2:])
    # Every line is one JSON object: no text START, END or REPORT line is left.
    lines = [json.loads(line) for line in cold.splitlines()]
    init_start, start, report = lines[0], lines[1], lines[-1]
    assert init_start["type"] == "platform.initStart"
    assert init_start["record"]["initializationType"] == "on-demand"
    assert (init_start["record"]["functionName"], init_start["record"]["functionVersion"]) == ("log_levels", "$LATEST")
    assert init_start["record"]["runtimeVersion"].startswith("python:3.")
    assert init_start["time"] <= start["time"]
    assert json.loads(warm.splitlines()[0])["type"] == "platform.start"
    assert (start["type"], start["record"]) == ("platform.start", {"requestId": first.request_id, "version": "$LATEST"})
    assert report["type"] == "platform.report"
    assert report["record"]["requestId"] == first.request_id
    assert report["record"]["status"] == "success"
    metrics = report["record"]["metrics"]
    assert metrics["memorySizeMB"] == 256
    assert metrics["billedDurationMs"] >= metrics["durationMs"] > 0
    assert 0 < metrics["maxMemoryUsedMB"] <= 256
    assert metrics["initDurationMs"] > 0
    assert start["time"] <= report["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", report["time"])
    # Only a cold start reports an init duration.
    assert "initDurationMs" not in json.loads(warm.splitlines()[-1])["record"]["metrics"]


async def test_json_log_format_reports_timeout(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(
        FunctionSpec(name="sleep", handler="handlers.sleep", environment=environment, timeout_s=1)
    ))

    result = await dispatcher.invoke(Invocation("sleep", b'{"seconds": 5}', "test"))

    report = json.loads(dispatcher.sinks.logs[-1].text.splitlines()[-1])
    assert result.error_type is not None
    assert (report["type"], report["record"]["status"]) == ("platform.report", "timeout")


async def test_closed_output_still_returns(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="closer", handler="handlers.close_output")))

    first = await dispatcher.invoke(Invocation("closer", b"{}", "test"))
    again = await dispatcher.invoke(Invocation("closer", b"{}", "test"))

    # The runtime writes its result and log on descriptors of its own, as Lambda's does.
    assert first.error_type is None, first.payload
    assert orjson.loads(first.payload) == "closed"
    assert "before closing" in dispatcher.sinks.logs[0].text
    # The instance lives on: the second call's print fails inside the handler, as on Lambda.
    assert again.error_type == "OSError"


async def test_timeout_billed_up_to_timeout(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="sleep", handler="handlers.sleep", timeout_s=1)))
    await dispatcher.invoke(Invocation("sleep", b'{"seconds": 0}', "test"))

    result = await dispatcher.invoke(Invocation("sleep", b'{"seconds": 5}', "test"))

    # The kill takes a few milliseconds past the timeout, which Lambda does not bill.
    assert result.error_type == "Sandbox.Timedout"
    record = dispatcher.sinks.records[-1]
    assert record.duration_ms >= 1000.0
    assert record.billed_ms == 1000
    assert "Billed Duration: 1000 ms" in dispatcher.sinks.logs[-1].text


async def test_log_level_filters_init_output(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}
    await dispatcher.deploy(service(FunctionSpec(name="loud", handler="init_output.handler", environment=environment)))

    await dispatcher.invoke(Invocation("loud", b"{}", "test"))

    # Prints count as INFO, whether the init or the handler wrote them, so WARN drops both.
    log = dispatcher.sinks.logs[-1].text
    assert "loading" not in log
    assert "handling" not in log
    assert [json.loads(line)["type"] for line in log.splitlines()] == [
        "platform.initStart", "platform.start", "platform.report"
    ]


async def test_exit_at_import_writes_init_report(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="exits", handler="exit_at_import.handler")))

    result = await dispatcher.invoke(Invocation("exits", b"{}", "test"))

    assert result.error_type == "Runtime.ExitError"
    lines = dispatcher.sinks.logs[-1].text.splitlines()
    # INIT_START, what the init printed, then its INIT_REPORT, all before START.
    assert lines[0].startswith("INIT_START Runtime Version: ")
    assert lines[1] == "exiting"
    assert lines[2].startswith("INIT_REPORT Init Duration: ")
    assert lines[2].endswith("\tPhase: init\tStatus: error\tError Type: Runtime.ExitError")
    assert lines[3].startswith("START RequestId: ")
    assert lines[-1].endswith("Status: error\tError Type: Runtime.ExitError")


async def test_retried_init_output_before_start(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(init_timeout_s=1.0)
    await dispatcher.deploy(service(FunctionSpec(name="hang", handler="loud_hang_at_import.handler", timeout_s=2)))

    result = await dispatcher.invoke(Invocation("hang", b"{}", "test"))

    assert result.error_type == "Sandbox.Timedout"
    lines = dispatcher.sinks.logs[-1].text.splitlines()
    # Each run of the init prints once; the second run, inside the call, comes before START whatever its end.
    assert lines[0].startswith("INIT_START Runtime Version: ")
    assert lines[1] == "init starting"
    assert lines[2].startswith("INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout")
    assert lines[3] == "init starting"
    assert lines[4].startswith("START RequestId: ")
    assert "Task timed out after 2.00 seconds" in lines[5]


async def test_json_log_format_reports_failed_init(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(
        FunctionSpec(name="broken", handler="broken_import.handler", environment=environment)
    ))

    await dispatcher.invoke(Invocation("broken", b"{}", "test"))

    objects = [json.loads(line) for line in dispatcher.sinks.logs[-1].text.splitlines() if line.startswith('{"time"')]
    types = [entry["type"] for entry in objects]
    assert types == ["platform.initStart", "platform.initReport", "platform.start", "platform.report"]
    init_report = objects[1]["record"]
    assert (init_report["phase"], init_report["status"]) == ("init", "error")
    assert init_report["errorType"] == "Runtime.ImportModuleError"
    assert init_report["metrics"]["durationMs"] > 0
    report = objects[-1]["record"]
    assert (report["status"], report["errorType"]) == ("error", "Runtime.ImportModuleError")
    assert "initDurationMs" not in report["metrics"]


_HOST_FILES = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(
    _HOST_FILES != resource.RLIM_INFINITY and _HOST_FILES < 1024,
    reason="the host allows fewer open files than Lambda's quota",
)
async def test_instance_opens_at_most_lambdas_1024_files(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="open_files", handler="handlers.open_files", timeout_s=30)))

    answer = await call(dispatcher, "open_files")

    assert answer["limit"] == [1024, 1024]
    # The runtime itself uses a few descriptors, and the handler gets the rest, no more.
    assert 1000 < answer["opened"] < 1024
    assert answer["error"] == "Too many open files"


async def test_instance_caps_processes_and_threads(
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    dispatcher = make_dispatcher()
    if not dispatcher.cgroups.pids:
        pytest.skip("the host gives the server no pids cgroup controller")
    await dispatcher.deploy(service(FunctionSpec(name="tasks", handler="handlers.tasks", memory_mb=512, timeout_s=30)))

    answer = await call(dispatcher, "tasks")

    # The handler's own thread counts too, as it does against Lambda's quota.
    assert answer == {"threads": 1023, "thread_error": "can't start new thread", "fork_error": "Resource temporarily unavailable"}
    # The threads ended, so the same instance starts as many again.
    assert (await call(dispatcher, "tasks"))["threads"] == 1023
    assert dispatcher.sinks.records[-1].cold is False


async def test_raised_memory_error_leaves_later_calls_working(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(
        FunctionSpec(name="memory_error", handler="handlers.raise_memory_error"),
        FunctionSpec(name="count", handler="handlers.count"),
    ))

    failed = await dispatcher.invoke(Invocation("memory_error", b"{}", "test"))
    # A plain error under a memory cgroup; out of memory under an address-space limit.
    assert failed.error_type in ("MemoryError", "Runtime.OutOfMemory")
    again = [await dispatcher.invoke(Invocation("memory_error", b"{}", "test")) for _ in range(5)]

    # No later call meets an instance the earlier error doomed.
    assert [result.error_type for result in again] == [failed.error_type] * 5


async def test_result_encoding_follows_lambdas_runtime(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(
        FunctionSpec(name="decimals", handler="handlers.decimals"),
        FunctionSpec(name="raw_bytes", handler="handlers.raw_bytes"),
    ))

    decimals = await dispatcher.invoke(Invocation("decimals", b"{}", "test"))
    raw = await dispatcher.invoke(Invocation("raw_bytes", b"{}", "test"))

    # A Decimal keeps its digits; NaN and infinity are written as Python's json writes floats.
    assert decimals.payload == (
        b'{"price": 1.10, "big": 12345678901234567890.123, "whole": 7, "infinite": Infinity, "nan": NaN}'
    )
    # Bytes are the payload as they are.
    assert (raw.error_type, raw.payload) == (None, b"\x89PNG not json")


async def test_unusual_exceptions_do_not_lose_the_error(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(
        FunctionSpec(name="lone_surrogate", handler="handlers.lone_surrogate"),
        FunctionSpec(name="interrupt", handler="handlers.interrupt"),
    ))

    surrogate = await dispatcher.invoke(Invocation("lone_surrogate", b"{}", "test"))
    interrupted = await dispatcher.invoke(Invocation("interrupt", b"{}", "test"))

    assert surrogate.error_type == "ValueError"
    assert "[ERROR] ValueError: bad \\ud800 text" in dispatcher.sinks.logs[-2].text
    # KeyboardInterrupt is not an Exception: the process ends of SIGINT, with its traceback logged.
    assert interrupted.error_type == "Runtime.ExitError"
    assert orjson.loads(interrupted.payload)["errorMessage"].endswith("Runtime exited with error: signal: interrupt")
    assert "KeyboardInterrupt" in dispatcher.sinks.logs[-1].text


async def test_sys_exit_runs_atexit_functions(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="exit_after_atexit", handler="handlers.exit_after_atexit")))

    result = await dispatcher.invoke(Invocation("exit_after_atexit", b'{"code": 3}', "test"))

    assert result.error_type == "Runtime.ExitError"
    assert orjson.loads(result.payload)["errorMessage"].endswith("exit status 3")
    assert "atexit function ran" in dispatcher.sinks.logs[-1].text


@pytest.mark.parametrize("how", ["exit", "timeout"])
async def test_output_without_newline_survives_death(make_dispatcher: Callable[..., Dispatcher], how: str) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="partial_line", handler="handlers.partial_line", timeout_s=1)))

    result = await dispatcher.invoke(Invocation("partial_line", orjson.dumps({"how": how}), "test"))

    assert result.error_type is not None
    text = dispatcher.sinks.logs[-1].text
    assert "progress 50%" in text
    assert "half a line on stderr" in text


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("WARN", ["a warning line", "an error line"]),
        ("INFO", ["a printed line", "an info line", "a warning line", "an error line"]),
        ("DEBUG", ["a printed line", "a debug line", "an info line", "a warning line", "an error line"]),
    ],
)
async def test_json_log_level_filters_every_line(
    make_dispatcher: Callable[..., Dispatcher], level: str, kept: list[str]
) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}
    await dispatcher.deploy(service(
        FunctionSpec(name="levels", handler="handlers.log_levels_everywhere", environment=environment)
    ))

    await call(dispatcher, "levels")

    # As on Lambda, lines below the level are dropped whichever logger wrote them, and a print counts as INFO.
    lines = [json.loads(line) if line.startswith("{") else line for line in dispatcher.sinks.logs[-1].text.splitlines()]
    # Between the platform's initStart and start objects and its report.
    messages = [line if isinstance(line, str) else line.get("message") for line in lines[2:-1]]
    assert messages == kept


async def test_json_log_keeps_extra_fields(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    environment = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    await dispatcher.deploy(service(
        FunctionSpec(name="levels", handler="handlers.log_levels_everywhere", environment=environment)
    ))

    await call(dispatcher, "levels")

    lines = [json.loads(line) for line in dispatcher.sinks.logs[-1].text.splitlines() if line.startswith("{")]
    info = next(line for line in lines if line.get("message") == "an info line")
    assert (info["order"], info["amount"], info["logger"]) == ({"id": 7}, 3, "chatty")


async def test_argv_and_path_as_on_lambda(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="interpreter", handler="handlers.interpreter")))

    answer = await call(dispatcher, "interpreter")

    # No zygote arguments leak into the handler's argv, and the code folder is first on sys.path, once.
    assert len(answer["argv"]) == 1
    assert answer["argv"][0].endswith("bootstrap.py")
    assert answer["path"][0] == str(APP)
    assert answer["path"].count(str(APP)) == 1


async def test_instances_crashing_at_once_leave_no_idle_ghosts(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher()
    await dispatcher.deploy(service(FunctionSpec(name="crash", handler="handlers.crash")))

    # Many cold instances crash right after their init, while their calls still wait for it.
    for _ in range(3):
        results = await asyncio.gather(*(dispatcher.invoke(Invocation("crash", b"{}", "test")) for _ in range(16)))
        assert {result.error_type for result in results} == {"Runtime.ExitError"}

    # A dead instance never comes back as idle, where the next call would find it gone.
    pool = dispatcher.pools["crash"]
    assert pool.idle_count == 0
    assert pool.busy_count == 0


def process_state(pid: int) -> str:
    """Return the one-letter state of a process from /proc: R running, S sleeping, T stopped."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def test_idle_instance_is_frozen_and_thawed(make_dispatcher: Callable[..., Dispatcher]) -> None:
    dispatcher = make_dispatcher(reap_interval_s=0.05)
    await dispatcher.deploy(service(FunctionSpec(name="spin", handler="handlers.spin_after_return")))

    pid = (await call(dispatcher, "spin"))["pid"]

    # Idle, its busy thread is stopped, as Lambda freezes an idle execution environment.
    await wait_until(lambda: process_state(pid) == "T")
    # The next call thaws it and runs on the same instance.
    assert (await call(dispatcher, "spin"))["pid"] == pid
    assert process_state(pid) != "T"
