"""The runtime inside an instance: import the handler, then serve invocations.

This module is imported by the zygote before it forks, so everything an
instance needs is already loaded when a fork starts. It runs in user-code
processes only and never in the server; it keeps to the standard library so
that idle instances stay small.
"""

from __future__ import annotations

import atexit
import decimal
import functools
import importlib
import json
import logging
import os
import re
import resource
import signal
import socket
import sys
import time
import traceback
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from squall.runtime.context import LambdaContext
from squall.runtime.descendants import kill_descendants
from squall.runtime.protocol import (
    HEADER,
    HEADER_SIZE,
    MAX_LOG_BYTES,
    MAX_RESPONSE_BYTES,
    Kind,
    encode,
    read_kept_output,
    utc_stamp,
)

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
# Third-party packages can live under the standard library's folder, as in a Python without a virtualenv.
_PACKAGE_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect

DRAIN_TIMEOUT_S = 5.0
RECEIVE_CHUNK_BYTES = 64 * 1024

_JSON_DECODER = json.JSONDecoder()
# First bytes for which `json.loads` would pick an encoding other than plain
# UTF-8: a byte-order mark, or the NUL bytes of UTF-16 and UTF-32 text.
_NOT_PLAIN_UTF8_START = frozenset(b"\x00\xef\xfe\xff")

# The import path before the zygote puts the function's folders first. The
# runtime imports what it needs after that from here, so that no module of
# the function takes the place of one of the standard library's.
_RUNTIME_SYS_PATH = tuple(sys.path)

_request_id = ""  # the invocation being served; read by the log filter
_runtime_log_fd = 1  # the runtime's own descriptor on the log file; serve() sets it
# Whether a memory cgroup contains this instance. The kernel then ends the
# instance when it passes its memory size. The zygote sets it before the handler loads.
memory_cgroup = False


@dataclass(frozen=True)
class InstanceSettings:
    """Settings the zygote passes to each forked instance."""

    function_name: str
    function_version: str
    handler: str
    memory_mb: int
    log_group_name: str
    log_stream_name: str
    tmp_dir: str


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


# Lambda's application log levels (AWS_LAMBDA_LOG_LEVEL) as Python's levels.
_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}


class _JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object, the fields Lambda's JSON log format gives Python's `logging`.

    Attributes a call adds with `extra=` become fields of their own, and an
    exception adds its type, message, stack trace and location.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": utc_stamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": _request_id,
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["errorType"] = type(error).__name__
            entry["errorMessage"] = str(error)
            # Lambda's JSON log format writes this trace with format_tb, column marks and all.
            entry["stackTrace"] = traceback.format_tb(error.__traceback__)
            entry["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for name, value in record.__dict__.items():
            if name not in _RECORD_ATTRIBUTES and name not in entry and value is not None:
                entry[name] = value
        return json.dumps(entry, default=str)


# The attributes every LogRecord has, and those formatters add; any other one came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "aws_request_id"}


def install_logging() -> None:
    """Send `logging` output to stdout in Lambda's format, tagged with the request id.

    AWS_LAMBDA_LOG_FORMAT=JSON gives one JSON object per line, and
    AWS_LAMBDA_LOG_LEVEL sets the root logger's level, as Lambda's logging
    controls do. With JSON and no level, the level is INFO; with text and no
    level, Python's default (WARNING) stays.
    """
    # Lambda's runtime makes every formatter, the function's own too, write
    # times in UTC. A TZ in the function's environment then changes the
    # times its code reads but not the times in its log.
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    root = logging.getLogger()
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    if json_format:
        handler.setFormatter(_JsonFormatter())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        handler.setFormatter(formatter)
        handler.addFilter(_RequestIdFilter())
    level = _LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level is not None:
        root.setLevel(level)
    elif json_format:
        root.setLevel(logging.INFO)
    root.handlers[:] = [handler]


class _Channel:
    """Blocking frame I/O over the instance's end of the socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def receive(self) -> tuple[int, bytes, bytes] | None:
        """Return the next frame as (kind, metadata, body), or None once the server closed the socket."""
        # One recv usually brings a whole frame, header and all.
        if not self._fill(HEADER_SIZE):
            return None
        kind, meta_len, body_len = HEADER.unpack_from(self._buffer)
        end = HEADER_SIZE + meta_len + body_len
        if not self._fill(end):
            return None
        meta = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + meta_len])
        body = bytes(self._buffer[HEADER_SIZE + meta_len : end])
        del self._buffer[:end]
        return kind, meta, body

    def send(self, kind: Kind, meta: dict[str, Any], body: bytes = b"") -> None:
        self.send_encoded(kind, json.dumps(meta).encode(), body)

    def send_encoded(self, kind: Kind, meta: bytes, body: bytes) -> None:
        self._sock.sendall(encode(kind, meta, body))

    def drain(self) -> None:
        """Read until the server closes the socket.

        A Unix socket closed with unread data resets the connection, and the
        reset can overtake the frame just sent. The server sends a cold
        instance its invocation before the init ends, so that frame must be read.
        """
        self._sock.settimeout(DRAIN_TIMEOUT_S)
        try:
            while self._sock.recv(65536):
                pass
        except OSError:
            pass

    def _fill(self, size: int) -> bool:
        """Receive until the buffer contains `size` bytes; return False when the server closed the socket."""
        while len(self._buffer) < size:
            chunk = self._sock.recv(max(RECEIVE_CHUNK_BYTES, size - len(self._buffer)))
            if not chunk:
                return False
            self._buffer += chunk
        return True


def _is_platform_frame(frame: traceback.FrameSummary) -> bool:
    """Tell whether a frame belongs to this runtime or to the standard library rather than to the function's code."""
    filename = frame.filename
    if filename.startswith(_RUNTIME_DIR) or filename.startswith("<frozen "):
        return True
    return filename.startswith(_STDLIB_DIR) and not any(folder in filename for folder in _PACKAGE_DIRS)


def _module_frames(tb: Any) -> list[str]:
    """Format the traceback of a failed handler import without the runtime's own frames.

    The import machinery's frames stay above the module's own, as Lambda's
    Python runtime reports them.
    """
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_RUNTIME_DIR)]
    return _format_frames(frames)


def _own_frames(tb: Any) -> list[str]:
    """Format only the frames of the function's own code and the packages it uses."""
    return _format_frames([f for f in traceback.extract_tb(tb) if not _is_platform_frame(f)])


def _handler_frames(tb: Any) -> list[str]:
    """Format the traceback of a failed handler call, starting at the function's own code.

    The frames above the first frame of the function's code (this runtime's,
    and asyncio's for an `async def` handler) are cut. The frames below it
    stay, including those of the standard library and of packages the
    function called.
    """
    frames = traceback.extract_tb(tb)
    start = next((index for index, frame in enumerate(frames) if not _is_platform_frame(frame)), None)
    if start is None:
        # A handler that is itself a standard library function has no frame of its own.
        shown = [f for f in frames if not f.filename.startswith(_RUNTIME_DIR)]
    else:
        shown = frames[start:]
    return _format_frames(shown)


def _format_frames(frames: list[traceback.FrameSummary]) -> list[str]:
    """Format frames as Lambda's Python runtime does: from file, line number, function and source line only.

    Python 3.11 and later add a line of `^` and `~` marks under the source
    line of a frame that records its columns. Lambda's runtime formats each
    frame without its columns, so its stackTrace has no such lines.
    """
    return traceback.format_list([(frame.filename, frame.lineno, frame.name, frame.line) for frame in frames])


def _error_body(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    ).encode()


def _log_error(error_type: str, message: str, stack: list[str]) -> None:
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        # One line, as Lambda's runtime writes an error in the JSON log format.
        entry = {
            "timestamp": utc_stamp(time.time()),
            "level": "ERROR",
            "errorMessage": message,
            "errorType": error_type,
            "requestId": _request_id,
            "stackTrace": stack,
        }
        _write_runtime_log(json.dumps(entry, default=str) + "\n")
        return
    text = f"[ERROR] {error_type}: {message}\n"
    if stack:
        text += "Traceback (most recent call last):\n" + "".join(stack)
    if not text.endswith("\n"):
        text += "\n"
    _write_runtime_log(text)


def _write_runtime_log(text: str) -> None:
    """Append the runtime's own text to the log, after what the handler printed.

    It goes to the runtime's descriptor on the log file, so it is written even
    when the handler closed or replaced sys.stdout.
    """
    _flush_streams()
    # A message may hold a lone surrogate, which UTF-8 cannot encode: write it escaped.
    data = memoryview(text.encode("utf-8", "backslashreplace"))
    while data:
        data = data[os.write(_runtime_log_fd, data):]


class InitError(Exception):
    """Raised when the handler cannot be loaded; carries Lambda's error shape."""

    def __init__(self, error_type: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack


def load_handler(handler: str) -> Callable[..., Any]:
    """Import `module.function` and return the function, raising InitError as Lambda names it."""
    try:
        module_name, attribute = handler.rsplit(".", 1)
    except ValueError as error:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {error}", []) from None
    # A built-in module is always imported in place of a file of the same
    # name, so the function's own `time.py` could never be its handler.
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        raise InitError("Runtime.BuiltInModuleConflict", message, [])
    module_name = module_name.replace("/", ".")

    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        where = f'  File "{error.filename}" Line {error.lineno}\n        {(error.text or "").strip()}\n'
        message = f"Syntax error in module '{module_name}': {error.msg} ({os.path.basename(error.filename or '')}, line {error.lineno})"
        raise InitError("Runtime.UserCodeSyntaxError", message, [where]) from None
    except ImportError as error:
        # Lambda's Python runtime reports this error with an empty stack trace.
        # Squall keeps the function's own frames, which show the line whose
        # import failed; a handler module that does not exist has none.
        message = f"Unable to import module '{module_name}': {error}"
        raise InitError("Runtime.ImportModuleError", message, _own_frames(error.__traceback__)) from None
    except Exception as error:  # noqa: BLE001 - any failure of the user's module-level code
        raise InitError(type(error).__name__, str(error), _module_frames(error.__traceback__)) from None

    function = getattr(module, attribute, None)
    if function is None:
        raise InitError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'", [])
    return function


def decode_json(data: bytes) -> Any:
    """Parse JSON bytes exactly as `json.loads` does, without its encoding detection for plain UTF-8.

    Raises ValueError (json.JSONDecodeError or UnicodeDecodeError) as `json.loads` would,
    and RecursionError for a document nested about 1,000 levels deep.
    """
    if len(data) < 2 or data[0] in _NOT_PLAIN_UTF8_START or data[1] == 0:
        return json.loads(data)
    return _JSON_DECODER.decode(data.decode("utf-8", "surrogatepass"))


def encode_result(value: Any) -> bytes:
    """Serialise a handler's return value as Lambda's Python runtime does.

    Bytes are the payload as they are. Anything else becomes JSON, where a
    Decimal keeps its own digits (`1.10` stays `1.10`, 38 digits stay 38)
    and a Decimal NaN is `NaN`. Raises TypeError or ValueError when the value
    cannot be serialised, and RecursionError when it is nested too deeply.
    """
    if isinstance(value, bytes):
        return value
    text = _RESULT_ENCODER.encode(value)
    if _decimals_seen:
        _decimals_seen.clear()
        # The encoder wrote each Decimal as a marked string: put its digits in place.
        text = _MARKED_DECIMAL.sub(_unmark_decimal, text)
    return text.encode("utf-8", "surrogatepass")


def _result_meta(error_type: str | None, fatal: bool, max_rss_kb: int, log_bytes: int) -> bytes:
    """Encode the metadata of a RESULT frame.

    A success carries only two integers, so its JSON is formatted directly,
    in about a tenth of the time `json.dumps` takes for the same bytes.
    """
    if error_type is None and not fatal:
        return b'{"max_rss_kb":%d,"log_bytes":%d}' % (max_rss_kb, log_bytes)
    meta: dict[str, Any] = {"error_type": error_type, "max_rss_kb": max_rss_kb, "log_bytes": log_bytes}
    if fatal:
        meta["fatal"] = True
    return json.dumps(meta).encode()


def _to_json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # The json module cannot write a number it did not format itself, so
        # the Decimal goes out as a string with a mark that encode_result()
        # then replaces with the number.
        _decimals_seen.append(True)
        return f"{_DECIMAL_MARK}{'NaN' if value.is_nan() else value}{_DECIMAL_MARK}"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _unmark_decimal(match: re.Match[str]) -> str:
    return match.group(1)


# The mark is NUL, a fixed word and a random part, so no string a handler
# returns can pass for a Decimal. JSON text writes the NUL as \u0000.
_DECIMAL_MARK = f"\x00squall-decimal-{os.urandom(6).hex()}\x00"
_MARKED_DECIMAL = re.compile(re.escape(json.dumps(_DECIMAL_MARK)[:-1]) + r"([^\"\\]*)" + re.escape(json.dumps(_DECIMAL_MARK)[1:]))
_decimals_seen: list[bool] = []


# Built once, because `json.dumps` with a `default` builds a new encoder on every call.
# Lambda's runtimes for Python 3.12 and later write non-ASCII text as UTF-8,
# older ones as escapes, and Squall's runtime version is the server's Python.
_RESULT_ENCODER = json.JSONEncoder(default=_to_json_default, ensure_ascii=sys.version_info < (3, 12))


class _Invoker:
    """Calls the handler, plain or `async def`, on one persistent event loop."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        self._loop: Any = None
        if _is_async(function):
            # Only instances of async handlers load asyncio, during their init.
            self._loop = _import_asyncio().new_event_loop()

    def __call__(self, event: Any, context: LambdaContext) -> Any:
        if self._loop is None:
            return self._function(event, context)
        return self._loop.run_until_complete(self._function(event, context))


def _is_async(function: Any) -> bool:
    """Return whether a handler is an `async def` function or method, a partial of one, or an object whose `__call__` is one."""
    while isinstance(function, functools.partial):
        function = function.func
    code = getattr(function, "__code__", None)
    if code is None:
        code = getattr(getattr(type(function), "__call__", None), "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _import_asyncio() -> Any:
    """Import asyncio, and the standard library modules it needs, from the runtime's own import path.

    A module of the function named like one of them (`selectors.py`,
    `heapq.py`) then cannot take that module's place inside asyncio.
    """
    code_path = sys.path[:]
    sys.path[:] = _RUNTIME_SYS_PATH
    try:
        import asyncio
    finally:
        sys.path[:] = code_path
    return asyncio


def _flush_output(log_fd: int) -> int:
    """Flush stdout and stderr and return how many bytes the log file now holds.

    Output still buffered in a stream whose descriptor the handler closed is
    lost, as it would be on Lambda.
    """
    _flush_streams()
    return os.lseek(log_fd, 0, os.SEEK_CUR)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # its descriptor was closed by the handler


def _empty_log_file(log_fd: int, read_bytes: int) -> None:
    """Empty the log file for the next invocation, keeping what was written after the server's last read.

    A thread the handler started may print between invocations; that output
    goes into the next invocation's log instead of being lost.
    NOTE: a line written between the read and the truncation is still lost.
    """
    end = os.lseek(log_fd, 0, os.SEEK_CUR)
    later = os.pread(log_fd, min(end - read_bytes, MAX_LOG_BYTES), read_bytes) if end > read_bytes else b""
    os.ftruncate(log_fd, 0)
    os.lseek(log_fd, 0, os.SEEK_SET)
    if later:
        os.write(log_fd, later)


def _time_left_ms(meta: dict[str, Any], init_ms: float) -> int:
    """Return the call's timeout less the part of the init that ran past its limit, which the call's timeout covers."""
    limit = meta.get("init_limit_ms")
    if limit is None or init_ms <= limit:
        return meta["timeout_ms"]
    return max(0, meta["timeout_ms"] - int(init_ms - limit))


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def serve(sock: socket.socket, log_fd: int, settings: InstanceSettings) -> None:
    """Run one instance until the server closes its socket. Never returns normally."""
    global _request_id, _runtime_log_fd
    _runtime_log_fd = log_fd
    channel = _Channel(sock)
    started = time.perf_counter()

    try:
        invoke = _Invoker(load_handler(settings.handler))
    except SystemExit as exit_request:
        _exit_like_python(exit_request)
    except InitError as error:
        _log_error(error.error_type, error.message, error.stack)
        body = _error_body(error.error_type, error.message, "", error.stack)
        channel.send(Kind.INIT_ERROR, {"max_rss_kb": _max_rss_kb()}, body)
        channel.drain()
        os._exit(0)
    except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt and the like end the process
        _exit_on_uncaught(error)

    init_ms = (time.perf_counter() - started) * 1000
    memory_limit_in_mb = str(settings.memory_mb)
    # A call that starts a chain of calls is this function's first in it.
    first_lineage = f"{lineage_key(settings.function_name)}:1"
    log_bytes = _flush_output(log_fd)
    # The init's output travels in the frame: the invocation, often already
    # waiting, empties the log file before the server could read it there.
    init_output = read_kept_output(log_fd, log_bytes) if log_bytes else b""
    channel.send(Kind.READY, {"init_ms": init_ms, "max_rss_kb": _max_rss_kb(), "log_bytes": log_bytes}, init_output)

    while True:
        frame = channel.receive()
        if frame is None:
            # The server closed the instance. Processes the handler started end
            # with it, also those outside its process group and cgroup.
            kill_descendants(os.getpid())
            os._exit(0)
        _, meta_bytes, body = frame
        meta = decode_json(meta_bytes)
        _request_id = meta["id"]

        # The server reads this invocation's output from the log file once the
        # result arrives, so each invocation starts with an empty file.
        if log_bytes:
            _empty_log_file(log_fd, log_bytes)

        context = LambdaContext(
            request_id=_request_id,
            function_name=settings.function_name,
            function_version=settings.function_version,
            invoked_function_arn=meta["arn"],
            memory_limit_in_mb=memory_limit_in_mb,
            log_group_name=settings.log_group_name,
            log_stream_name=settings.log_stream_name,
            # The deadline counts from now: a cold instance reads this frame only after its init.
            deadline_ms=int(time.time() * 1000) + _time_left_ms(meta, init_ms),
            client_context=meta.get("client_context"),
            cognito_identity=meta.get("cognito_identity"),
        )
        # Tracing: the server sends a traceparent only while its tracing is on.
        traceparent = meta.get("traceparent")
        # Lambda gives every invocation an X-Ray trace header, sampled or not.
        # Tracing libraries such as the X-Ray SDK read it, and stay quiet when it is not sampled.
        # AWS SDKs send it along with the calls the handler makes, which is how
        # the server counts the invocations of a chain (see lineage_key).
        os.environ["_X_AMZN_TRACE_ID"] = xray_trace_header(traceparent, meta.get("trace_header"), first_lineage)
        try:
            if traceparent is None:
                result_meta, result = _run_one(invoke, body, context)
            else:
                result_meta, result = _run_traced(invoke, body, context, traceparent)
        except SystemExit as exit_request:
            _exit_like_python(exit_request)
        except BaseException as error:  # noqa: BLE001 - KeyboardInterrupt and the like end the process
            _exit_on_uncaught(error)
        log_bytes = _flush_output(log_fd)
        encoded_meta = _result_meta(result_meta.get("error_type"), result_meta.get("fatal", False), _max_rss_kb(), log_bytes)
        channel.send_encoded(Kind.RESULT, encoded_meta, result)


_HEX_DIGITS = frozenset("0123456789abcdef")


def xray_trace_header(traceparent: str | None, caller: str | None = None, lineage: str | None = None) -> str:
    """Return an X-Ray trace header ("Root=1-...;Parent=...;Sampled=0") for one invocation.

    With Squall's tracing on, it names the W3C trace and span of the
    invocation, sampled as the traceparent's flags set it. `caller` contains
    the Root, Sampled and Lineage fields the server kept from the trace
    header of the Invoke API request that made the call. Its Root and
    Lineage win, and its Sampled applies when there is no traceparent.
    `lineage` is the Lineage field to use when `caller` has none. Without
    a traceparent or `caller`, the header names a new, unsampled trace.
    """
    root = parent = sampled = None
    if traceparent is not None:
        parts = traceparent.split("-")
        if len(parts) != 4:
            parts = ["", "", "", ""]
        flags = parts[3]
        if len(parts[1]) == 32 and len(parts[2]) == 16 and len(flags) == 2 and all(c in _HEX_DIGITS for c in flags):
            root = f"1-{parts[1][:8]}-{parts[1][8:]}"
            parent = parts[2]
            # Bit 0 of the W3C flags is "sampled".
            sampled = str(int(flags, 16) & 1)

    if caller is not None:
        for field in caller.split(";"):
            name, _, value = field.partition("=")
            if name == "Root":
                root = value
            elif name == "Sampled" and sampled is None:
                sampled = value
            elif name == "Lineage":
                lineage = value

    if root is None or parent is None:
        random = os.urandom(20).hex()
        root = root or f"1-{int(time.time()):08x}-{random[:24]}"
        parent = parent or random[24:]
    header = f"Root={root};Parent={parent};Sampled={sampled or '0'}"
    return f"{header};Lineage={lineage}" if lineage else header


def lineage_key(function_name: str) -> str:
    """Return the 8 hex digits that stand for a function in the Lineage field of a trace header.

    Lambda counts in that field how often each function ran in one chain of
    calls, and stops a loop past 16 (see squall.gateway.invoke_api). The
    field is a list of KEY:COUNT entries joined by "|", and the key is the
    CRC-32 of the function's name on this server.
    NOTE: AWS documents the Lineage field but not its format, so this one is Squall's own.
    """
    return f"{zlib.crc32(function_name.encode()):08x}"


def _exit_like_python(exit_request: SystemExit) -> None:
    """End the process as `sys.exit()` would, so the server reports its exit status."""
    code = exit_request.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:
        _write_runtime_log(f"{code}\n")
        status = 1
    # The interpreter ends as after a normal exit, so the handler's atexit functions run.
    atexit._run_exitfuncs()
    _flush_streams()
    os._exit(status)


def _exit_on_uncaught(error: BaseException) -> None:
    """End the process as Python ends on an uncaught exception that is not an Exception.

    Lambda's runtime catches only Exception, so KeyboardInterrupt,
    GeneratorExit and the like end the process with their traceback.
    """
    traceback.print_exception(error)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    if isinstance(error, KeyboardInterrupt):
        # Python re-raises SIGINT to die of it, so the exit status shows the signal.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(1)


def _run_traced(invoke: _Invoker, body: bytes, context: LambdaContext, traceparent: str) -> tuple[dict[str, Any], bytes]:
    """Run one invocation inside a "handler" span whose parent is the server's invocation span.

    The handler finds the trace context in the TRACEPARENT environment
    variable. When the function's code has the opentelemetry API, spans it
    starts nest under the handler span; they are exported by whatever tracer
    provider that code configured, and dropped without one.
    """
    os.environ["TRACEPARENT"] = traceparent
    try:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return _run_one(invoke, body, context)

    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    tracer = trace.get_tracer("squall.runtime")
    attributes = {"faas.invocation_id": context.aws_request_id, "faas.name": context.function_name}
    with tracer.start_as_current_span("handler", context=parent, kind=trace.SpanKind.SERVER, attributes=attributes) as span:
        result_meta, result = _run_one(invoke, body, context)
        error_type = result_meta.get("error_type")
        if error_type is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, error_type))
    return result_meta, result


def _handler_error(error: BaseException, request_id: str) -> tuple[dict[str, Any], bytes]:
    """Log a handler's exception and return its error result.

    An error result is held to the same 6 MB limit as a successful one, so a
    message or stack that makes it larger gives Function.ResponseSizeTooLarge
    instead. The handler's own error stays in the log.
    NOTE: AWS documents the limit for responses, not what Lambda returns for
    a larger error result; this follows its recorded oversized response.
    """
    error_type = type(error).__name__
    stack = _handler_frames(error.__traceback__)
    message = _message_of(error)
    _log_error(error_type, message, stack)
    body = _error_body(error_type, message, request_id, stack)
    if len(body) > MAX_RESPONSE_BYTES:
        return _response_too_large(len(body))
    return {"error_type": error_type}, body


def _response_too_large(size: int) -> tuple[dict[str, Any], bytes]:
    """Log and return Lambda's error for a result of `size` bytes, over its 6 MB response limit."""
    message = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
    _log_error("Function.ResponseSizeTooLarge", f"{message} The response was {size} bytes.", [])
    # Without requestId and stackTrace, as AWS's recorded response of this error has neither.
    body = json.dumps({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}).encode()
    return {"error_type": "Function.ResponseSizeTooLarge"}, body


def _message_of(error: BaseException) -> str:
    """Return `str(error)`, or a placeholder when the exception's own `__str__` fails."""
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - the handler's exception class decides what str() does
        return f"<exception str() failed for {type(error).__name__}>"


def _run_one(invoke: _Invoker, body: bytes, context: LambdaContext) -> tuple[dict[str, Any], bytes]:
    request_id = context.aws_request_id
    try:
        event = decode_json(body) if body else {}
    except Exception as error:  # noqa: BLE001 - also RecursionError, from an event nested about 1,000 levels deep
        message = f"Unable to unmarshal input: {error}"
        _log_error("Runtime.UnmarshalError", message, [])
        return {"error_type": "Runtime.UnmarshalError"}, _error_body("Runtime.UnmarshalError", message, request_id, [])

    try:
        value = invoke(event, context)
    except MemoryError as error:
        if memory_cgroup:
            # The kernel ends an instance that passes its memory size, so this
            # is the handler's own error, as on Lambda: an allocation too large.
            return _handler_error(error, request_id)
        # Under an address-space limit this is how the instance ran out of
        # memory. Its heap cannot be trusted, so the server replaces it, and
        # logs the crash as it logs an instance the kernel killed.
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        body = _error_body("Runtime.OutOfMemory", message, request_id, [])
        return {"error_type": "Runtime.OutOfMemory", "fatal": True}, body
    except Exception as error:  # noqa: BLE001 - every handler failure becomes a Lambda error
        return _handler_error(error, request_id)

    try:
        result = encode_result(value)
    except Exception as error:  # noqa: BLE001 - Lambda reports any failure to encode as a MarshalError
        # A failure part way through can leave the mark of a Decimal already written.
        _decimals_seen.clear()
        message = f"Unable to marshal response: {_message_of(error)}"
        _log_error("Runtime.MarshalError", message, [])
        return {"error_type": "Runtime.MarshalError"}, _error_body("Runtime.MarshalError", message, request_id, [])

    if len(result) > MAX_RESPONSE_BYTES:
        return _response_too_large(len(result))
    return {}, result
