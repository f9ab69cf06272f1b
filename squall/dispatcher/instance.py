"""The server's handle on one instance process and the frames it exchanges with it."""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import orjson

from squall.metering.records import Outcome
from squall.runtime.protocol import HEADER, HEADER_SIZE, MAX_FRAME_BYTES, Kind, encode, read_kept_output

if TYPE_CHECKING:
    from squall.dispatcher.teardown import Sandbox
    from squall.dispatcher.zygote import Zygote

logger = logging.getLogger(__name__)

# A new spare is forked this long after a cold start's result arrived. Forked
# at once, it took CPU from the calls that often follow a cold start. A call
# that finds no spare does not wait for this, because it requests one at once.
REPLACE_SPARE_DELAY_S = 0.05
# Lambda's limit on the init phase of an on-demand instance.
DEFAULT_INIT_TIMEOUT_S = 10.0
# Lambda's init limit for provisioned instances, unless the function's timeout is longer.
DEFAULT_PROVISIONED_INIT_TIMEOUT_S = 130.0

# The error type of an invocation that was cut short before it ended, as when
# the server stops while it runs.
CANCELLED_ERROR_TYPE = "Squall.Cancelled"
# Output kept per invocation; past it the log notes how much was cut.


class InstanceState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass(slots=True)
class RawResult:
    """The output of one invocation on an instance, before metering and logging."""

    body: bytes  # the result JSON, or Lambda's error JSON
    outcome: Outcome
    error_type: str | None
    duration_ms: float
    max_memory_mb: int
    output: bytes  # what the function wrote to stdout, stderr and `logging`


@dataclass(slots=True)
class InitOutcome:
    """The end of an instance's init phase: ready, or an error in Lambda's shape."""

    ok: bool
    init_ms: float
    error_body: bytes = b""
    error_type: str | None = None
    output: bytes = b""


class InitPhaseTimedOut(Exception):
    """An on-demand instance's init ran past its limit; the instance is killed, and the call should start another."""

    def __init__(self, init_ms: float, output: bytes) -> None:
        super().__init__(f"the init phase timed out after {init_ms:.0f} ms")
        self.init_ms = init_ms
        self.output = output  # what the init printed before it was killed


class _FrameReader(asyncio.Protocol):
    """Splits the byte stream from an instance into frames."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if not buffer and len(data) >= HEADER_SIZE:
            # Usually one read brings exactly one frame: slice it without buffering.
            kind, meta_len, body_len = HEADER.unpack_from(data)
            end = HEADER_SIZE + meta_len + body_len
            if end == len(data):
                self._instance.on_frame(kind, data[HEADER_SIZE : HEADER_SIZE + meta_len], data[HEADER_SIZE + meta_len :])
                return
        buffer += data
        while len(buffer) >= HEADER_SIZE:
            kind, meta_len, body_len = HEADER.unpack_from(buffer)
            end = HEADER_SIZE + meta_len + body_len
            if end > MAX_FRAME_BYTES:
                logger.error("instance %s sent a frame of %d bytes; killing it", self._instance.id, end)
                self._instance.kill()
                return
            if len(buffer) < end:
                return
            meta = bytes(buffer[HEADER_SIZE : HEADER_SIZE + meta_len])
            body = bytes(buffer[HEADER_SIZE + meta_len : end])
            del buffer[:end]
            self._instance.on_frame(kind, meta, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self._instance.on_connection_lost()


class Instance:
    """One forked process running one function's handler, one invocation at a time."""

    def __init__(
        self,
        *,
        instance_id: str,
        zygote: Zygote,
        memory_mb: int,
        log_fd: int,
        sandbox: Sandbox,
        provisioned: bool,
        on_death: Callable[[Instance], None],
        assigned_at: float,
        replace_spare: bool = False,
    ) -> None:
        self.id = instance_id
        self.zygote = zygote
        self.memory_mb = memory_mb
        self.provisioned = provisioned
        self.state = InstanceState.STARTING
        self.pid: int | None = sandbox.pid
        self.idle_since = time.monotonic()
        self.invocations = 0
        self.memory_released = False  # set once the memory budget got this instance's share back
        self.max_memory_mb = 0  # peak resident memory the instance last reported
        self.init_outcome: InitOutcome | None = None
        self.cancelled_output = b""  # what a cancelled invocation had written when it was cancelled

        self._log_fd = log_fd
        self._sandbox = sandbox
        self._cgroup = sandbox.cgroup
        self._teardown = zygote.teardown
        self._watching_pidfd = False
        self._exited = False  # the process has exited, or its zygote cannot report that any more
        self._released = False  # its sandbox went to the teardown, which closes the pidfd
        # `time.perf_counter()` just before the spare was sent its assignment, so its init cannot have started earlier.
        self._assigned_at = assigned_at
        self._on_death = on_death
        self._reader = _FrameReader(self)
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[InitOutcome] = self._loop.create_future()
        self._gone: asyncio.Future[None] = self._loop.create_future()  # set once its pool has let it go
        self._result: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        self._exit_status: asyncio.Future[int] = self._loop.create_future()
        self._killed_for_timeout = False
        self._killed_for_stop = False
        self.frozen = False  # its processes are stopped while it is idle
        self._replace_spare = replace_spare  # ask the zygote for the next spare once settled

    # Start-up

    async def attach(self, sock: Any) -> None:
        """Take over the server's end of the socketpair once the spare has its assignment."""
        pidfd = self._sandbox.pidfd
        if pidfd is not None:
            # Readable once the process exits, even when its zygote is gone and cannot report it.
            self._loop.add_reader(pidfd, self._on_process_exit)
            self._watching_pidfd = True
        await self._loop.connect_accepted_socket(lambda: self._reader, sock)

    async def wait_ready(self) -> InitOutcome:
        return await self._ready

    async def wait_gone(self) -> None:
        """Return once the instance's socket closed and its pool gave back its place and memory."""
        await asyncio.shield(self._gone)

    # Frames and process events

    def on_frame(self, kind: int, meta: bytes, body: bytes) -> None:
        """Handle one frame from the instance; `kind` is a `Kind` value, unknown kinds are ignored."""
        if kind == Kind.RESULT:
            if self._result is not None and not self._result.done():
                self._result.set_result((orjson.loads(meta), body))
        elif kind == Kind.READY:
            info = orjson.loads(meta)
            self._note_memory(info.get("max_rss_kb", 0))
            # The init's output comes in the frame's body, already cut to what a log keeps.
            outcome = InitOutcome(ok=True, init_ms=info["init_ms"], output=body)
            self.init_outcome = outcome
            self.state = InstanceState.IDLE
            if not self._ready.done():
                self._ready.set_result(outcome)
        elif kind == Kind.INIT_ERROR:
            self._note_memory(orjson.loads(meta).get("max_rss_kb", 0))
            error_type = orjson.loads(body).get("errorType")
            # The init's length for the INIT_REPORT line, on the server's clock: the instance sends none with an error.
            init_ms = (time.perf_counter() - self._assigned_at) * 1000
            outcome = InitOutcome(ok=False, init_ms=init_ms, error_body=body, error_type=error_type, output=self._read_output())
            self.init_outcome = outcome
            if not self._ready.done():
                self._ready.set_result(outcome)
            self.close()  # the instance exits once its socket closes

    def on_connection_lost(self) -> None:
        self.state = InstanceState.DEAD
        self.settle()
        if not self._ready.done():
            # The init ended the process: an exit or a signal. Its output and length go to the INIT_REPORT.
            init_ms = (time.perf_counter() - self._assigned_at) * 1000
            outcome = InitOutcome(ok=False, init_ms=init_ms, error_type="Runtime.ExitError", output=self._read_output())
            self.init_outcome = outcome
            self._ready.set_result(outcome)
        if self._result is not None and not self._result.done():
            self._result.set_exception(ConnectionResetError("instance exited"))
        self._on_death(self)
        if not self._gone.done():
            self._gone.set_result(None)
        self._maybe_close_files()

    def on_exit(self, status: int) -> None:
        """Record the wait status the zygote reported for this instance's process."""
        if not self._exit_status.done():
            self._exit_status.set_result(status)
        self._on_exited()

    def on_zygote_exit(self) -> None:
        """Stop waiting for an exit status: the zygote that would report it has exited."""
        if not self._exit_status.done():
            self._exit_status.set_result(None)
        if self._sandbox.pidfd is None:
            # Without a pidfd nothing else reports the exit. The zygote's end
            # kills the instance (PR_SET_PDEATHSIG), and the teardown waits for that.
            self._on_exited()

    def _on_process_exit(self) -> None:
        self._stop_watching_pidfd()
        self._on_exited()

    def _on_exited(self) -> None:
        if self._exited:
            return
        self._exited = True
        # The instance has ended, so the processes it started end too. One of
        # them may hold a copy of the instance's socket, which then closes.
        if not self._released:
            self._teardown.kill_started(self._sandbox)
        self._maybe_close_files()

    def _stop_watching_pidfd(self) -> None:
        if self._watching_pidfd:
            self._watching_pidfd = False
            self._loop.remove_reader(self._sandbox.pidfd)  # type: ignore[arg-type]

    # Invocation

    async def invoke(
        self,
        request_id: str,
        payload: bytes,
        arn: str,
        client_context: Any,
        timeout_s: float,
        init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S,
        traceparent: str | None = None,
        init_in_call: bool = False,
        trace_header: str | None = None,
    ) -> RawResult:
        """Run one invocation and return its result; the instance may be dead afterwards.

        A cold instance gets the invocation while it is still in its init, so
        the frame is waiting when the handler is ready. The duration and the
        timeout then count from the end of the init (see `_handler_start`).
        An init that runs past `init_timeout_s` raises InitPhaseTimedOut after
        killing the instance. Lambda then runs the init again inside the call,
        and `init_in_call` is that second run: the init has no limit of its
        own, and it counts toward the call's duration and timeout.
        """
        # Not ready yet, or already failed its init (a fast failure can arrive
        # before the invocation is sent): either way the init decides.
        starting = not (self._ready.done() and self._ready.result().ok)
        meta: dict[str, Any] = {"id": request_id, "timeout_ms": int(timeout_s * 1000), "arn": arn}
        if starting and init_in_call:
            # The handler gets what the init left of the timeout.
            meta["init_limit_ms"] = 0
        if client_context is not None:
            meta["client_context"] = client_context
        # The runtime opens a handler span only when this key is present.
        if traceparent is not None:
            meta["traceparent"] = traceparent
        # The caller's X-Ray trace fields, for the instance's _X_AMZN_TRACE_ID; only Invoke API calls carry them.
        if trace_header is not None:
            meta["trace_header"] = trace_header
        self._result = self._loop.create_future()
        transport = self._reader.transport
        if transport is None or transport.is_closing():
            self._result.set_exception(ConnectionResetError("instance exited"))
        else:
            transport.write(encode(Kind.INVOKE, orjson.dumps(meta), payload))
        sent_at = time.perf_counter()

        if starting:
            try:
                outcome = await asyncio.wait_for(asyncio.shield(self._ready), timeout_s if init_in_call else init_timeout_s)
            except TimeoutError:
                # Dead from now on, so that the pool does not take it back as idle.
                self.kill()
                self.state = InstanceState.DEAD
                self._drop_result()
                output = self._read_output()
                if not init_in_call:
                    raise InitPhaseTimedOut(init_timeout_s * 1000, output) from None
                # The output is the init's, which the log places before START, as for an init that ends in time.
                self.init_outcome = InitOutcome(
                    ok=False, init_ms=timeout_s * 1000, error_type="Sandbox.Timedout", output=output
                )
                message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
                return self._error_result("Sandbox.Timedout", message, Outcome.TIMEOUT, timeout_s * 1000, b"")
            if not outcome.ok:
                self._drop_result()
                return await self.init_failure(request_id)
        if self.state is not InstanceState.DEAD:
            # An instance that died while the call waited for its init stays dead,
            # so that the pool does not take it back as idle.
            self.state = InstanceState.BUSY
        self.invocations += 1
        now = time.perf_counter()
        if starting and init_in_call:
            started = sent_at
        else:
            started = self._handler_start(sent_at, now) if starting else now
        timer = self._loop.call_later(max(0.0, started + timeout_s - now), self._on_timeout)

        try:
            result_meta, body = await self._result
        except ConnectionResetError:
            timer.cancel()
            duration_ms = (time.perf_counter() - started) * 1000
            return await self._death_result(request_id, duration_ms, timeout_s)
        except asyncio.CancelledError:
            # The caller was cancelled, as when the server stops. The instance is
            # killed so that the handler does not run on in an instance that looks idle.
            timer.cancel()
            self.cancelled_output = self._read_output()
            # Dead from now on, so that the pool does not take the killed instance back as idle.
            self.state = InstanceState.DEAD
            self.kill()
            raise
        finally:
            self._result = None
            self._maybe_close_files()
        timer.cancel()

        duration_ms = (time.perf_counter() - started) * 1000
        self.settle()
        error_type = result_meta.get("error_type")
        fatal = bool(result_meta.get("fatal"))
        if fatal:
            # Dead from now on, so that no call gets it before its socket closes.
            self.kill()
            self.state = InstanceState.DEAD
        outcome = Outcome.ERROR if error_type else Outcome.SUCCESS
        if fatal:
            # A fatal error ends the instance, as a crash does, and is logged and reported as one.
            outcome = Outcome.CRASH
        return RawResult(
            body=body,
            outcome=outcome,
            error_type=error_type,
            duration_ms=duration_ms,
            max_memory_mb=self._note_memory(result_meta.get("max_rss_kb", 0)),
            output=self._read_output(result_meta.get("log_bytes")),
        )

    def _handler_start(self, sent_at: float, ready_at: float) -> float:
        """Return the earliest time, on the server's clock, that a cold instance's handler could have started.

        The instance ran the handler right after its init, often before the
        server handled the ready frame, so `ready_at` is too late: the result
        may even arrive with the ready frame. The handler cannot have started
        before the invocation was sent, nor before an init of the reported
        length, begun after the spare got its assignment, could have ended.
        Like a warm call's, the duration measured from here includes the
        frames' travel and never falls short of the handler's own time.
        """
        init_ms = self.init_outcome.init_ms if self.init_outcome is not None else 0.0
        earliest = max(sent_at, self._assigned_at + init_ms / 1000)
        return min(earliest, ready_at)

    def settle(self) -> None:
        """Ask for the spare that replaces this instance, once, after its cold start."""
        if self._replace_spare:
            self._replace_spare = False
            self._loop.call_later(REPLACE_SPARE_DELAY_S, self.zygote.request_spare)

    def _drop_result(self) -> None:
        # The instance died before it sent a result, so no caller awaits one.
        future, self._result = self._result, None
        if future is not None:
            if future.done():
                future.exception()
            else:
                future.cancel()
        self._maybe_close_files()

    async def init_failure(self, request_id: str) -> RawResult:
        """Describe a failed init phase as the invocation's result, in Lambda's words."""
        outcome = self.init_outcome or await self._ready
        if outcome.error_body:
            return RawResult(outcome.error_body, Outcome.ERROR, outcome.error_type, 0.0, self.max_memory_mb, b"")
        # The process exited during init without reporting an error.
        try:
            status = await asyncio.wait_for(asyncio.shield(self._exit_status), 2.0)
        except TimeoutError:
            status = None
        message = f"RequestId: {request_id} Error: {describe_exit(status)}"
        return self._error_result("Runtime.ExitError", message, Outcome.CRASH, 0.0, b"")

    def _on_timeout(self) -> None:
        self._killed_for_timeout = True
        self.kill()

    async def _death_result(self, request_id: str, duration_ms: float, timeout_s: float) -> RawResult:
        output = self._read_output()
        if self._killed_for_timeout:
            message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            return self._error_result("Sandbox.Timedout", message, Outcome.TIMEOUT, duration_ms, output)
        if self._killed_for_stop:
            message = f"RequestId: {request_id} Error: the server stopped before the invocation ended"
            return self._error_result(CANCELLED_ERROR_TYPE, message, Outcome.CRASH, duration_ms, output)

        try:
            status = await asyncio.wait_for(asyncio.shield(self._exit_status), 2.0)
        except TimeoutError:
            status = None
        if self.zygote.cgroups.was_oom_killed(self._cgroup):
            message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            return self._error_result("Runtime.OutOfMemory", message, Outcome.CRASH, duration_ms, output)
        message = f"RequestId: {request_id} Error: {describe_exit(status)}"
        return self._error_result("Runtime.ExitError", message, Outcome.CRASH, duration_ms, output)

    def _error_result(self, error_type: str, message: str, outcome: Outcome, duration_ms: float, output: bytes) -> RawResult:
        body = orjson.dumps({"errorType": error_type, "errorMessage": message})
        # A dead instance sends no more reports, so its last peak is used,
        # or the whole limit when the kernel killed it for memory.
        memory = self.memory_mb if error_type == "Runtime.OutOfMemory" else self.max_memory_mb
        return RawResult(body, outcome, error_type, duration_ms, memory, output)

    def _note_memory(self, max_rss_kb: int) -> int:
        # The peak resident size also counts pages shared with the zygote,
        # which the instance's memory limit does not charge, so it can pass
        # the limit by a little. Lambda's Max Memory Used never does.
        self.max_memory_mb = min(_megabytes(max_rss_kb), self.memory_mb)
        return self.max_memory_mb

    # Logs and teardown

    def _read_output(self, size: int | None = None) -> bytes:
        """Read what the instance wrote; `size` is the length it reported, if it could."""
        if self._log_fd < 0 or size == 0:
            return b""
        try:
            if size is None:
                size = os.fstat(self._log_fd).st_size
            if size == 0:
                return b""
            return read_kept_output(self._log_fd, size)
        except OSError:
            return b""

    def freeze(self) -> None:
        """Stop an idle instance and the processes it started, as Lambda freezes an idle execution environment.

        Threads and processes the handler left running then use no CPU until
        the next invocation thaws the instance.
        """
        if self.frozen or self._released or self.state is not InstanceState.IDLE:
            return
        try:
            os.killpg(self._sandbox.pid, signal.SIGSTOP)
        except OSError as error:
            logger.debug("cannot freeze instance %d: %s", self._sandbox.pid, error)
            return
        self.frozen = True

    def thaw(self) -> None:
        """Let a frozen instance run again, before it gets an invocation or is closed."""
        if not self.frozen:
            return
        self.frozen = False
        try:
            os.killpg(self._sandbox.pid, signal.SIGCONT)
        except OSError as error:
            logger.debug("cannot thaw instance %d: %s", self._sandbox.pid, error)

    def kill_for_stop(self) -> None:
        """Kill the instance because the server is stopping; a call it was running ends as cancelled."""
        self._killed_for_stop = True
        self.kill()

    def kill(self) -> None:
        """Kill the process and the processes it started at once; its socket closing then reports the death."""
        if self._released:
            return  # already gone, and its pidfd is closed
        self._teardown.kill(self._sandbox)

    def close(self) -> None:
        """Stop the instance: it exits by itself once its socket closes."""
        if not self._released:
            # Now, while the instance lives: its zygote may stop first and take it down.
            self._teardown.kill_descendants(self._sandbox)
        self.thaw()  # a stopped process would not see its socket close
        self.state = InstanceState.DEAD
        transport = self._reader.transport
        if transport is not None:
            transport.close()
        else:
            self.kill()

    def _maybe_close_files(self) -> None:
        # The log file and the cgroup's OOM count are read once more after a
        # death, so they stay until the process is gone and no invocation is
        # still reading them.
        if self.state is InstanceState.DEAD and self._exited and self._result is None and not self._released:
            self._close_files()

    def _close_files(self) -> None:
        self._stop_watching_pidfd()
        if self._log_fd >= 0:
            os.close(self._log_fd)
            self._log_fd = -1
        self._released = True
        self._cgroup = None
        self._teardown.release(self._sandbox)


def _megabytes(kilobytes: int) -> int:
    return -(-kilobytes // 1024)


def describe_exit(status: int | None) -> str:
    """Word a wait status as Lambda's Runtime.ExitError messages do."""
    if status is None:
        return "Runtime exited without providing a reason"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        # Lambda words signals as its Go runtime names them.
        names = {
            signal.SIGKILL: "killed",
            signal.SIGSEGV: "segmentation fault",
            signal.SIGABRT: "aborted",
            signal.SIGINT: "interrupt",
            signal.SIGTERM: "terminated",
            signal.SIGBUS: "bus error",
            signal.SIGFPE: "floating point exception",
            signal.SIGILL: "illegal instruction",
        }
        try:
            name = names.get(signal.Signals(number), signal.Signals(number).name)
        except ValueError:
            name = str(number)
        return f"Runtime exited with error: signal: {name}"
    code = os.WEXITSTATUS(status)
    if code == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {code}"
