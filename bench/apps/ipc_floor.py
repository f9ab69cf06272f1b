"""The minimal work per call of a server built as Squall is: uvicorn, one round trip to a worker process.

Run as `python -m bench.apps.ipc_floor`; it binds 127.0.0.1 on a free port and
prints `serving on http://127.0.0.1:PORT` once it listens. Like the bare
baseline it is one uvicorn process with httptools and uvloop. Each request
takes an idle worker, sends it a fixed API Gateway payload 2.0 event over a
socketpair, waits for the worker's JSON answer and returns its body. A worker
decodes the event and encodes a response, as an instance running a no-op
handler does, and nothing else: no routing, event building, context, output
capture, logs, records or metrics.

So Squall's warm path costs what this floor costs plus Squall's own work,
and the floor's throughput is the most that design could reach on the same
machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections import deque
from typing import Any, Awaitable, Callable

import orjson

from bench.apps.bare_asgi import serve

WORKERS = 32  # one per connection at the benchmark's highest level
_LENGTH = struct.Struct("!I")
_HEADERS = [(b"content-type", b"application/json")]
_EVENT = orjson.dumps(
    {
        "version": "2.0",
        "routeKey": "GET /",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1", "user-agent": "wrk", "x-forwarded-proto": "http"},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "wrk"},
            "requestId": "00000000-0000-4000-8000-000000000000",
            "routeKey": "GET /",
            "stage": "$default",
            "time": "05/Dec/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
)
_FRAME = _LENGTH.pack(len(_EVENT)) + _EVENT


def work(sock: socket.socket) -> None:
    """Reply to frames until the server closes the socket: decode the event, encode a response."""
    decoder = json.JSONDecoder()
    encoder = json.JSONEncoder()
    buffer = b""
    while True:
        while len(buffer) < _LENGTH.size or len(buffer) < _LENGTH.size + _LENGTH.unpack_from(buffer)[0]:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        end = _LENGTH.size + _LENGTH.unpack_from(buffer)[0]
        decoder.decode(buffer[_LENGTH.size : end].decode())
        buffer = buffer[end:]
        answer = encoder.encode({"statusCode": 200, "body": "ok"}).encode()
        sock.sendall(_LENGTH.pack(len(answer)) + answer)


class _Worker(asyncio.Protocol):
    """The server's end of one worker's socketpair. Each read contains one whole response."""

    def __init__(self) -> None:
        self.transport: Any = None  # set as the connection is made, before the worker is lent out
        self.answer: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer is not None:
            self.answer.set_result(data[_LENGTH.size :])


class _Pool:
    """Workers forked on the first request, lent out one call at a time."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._started: asyncio.Future[None] | None = None

    async def call(self) -> bytes:
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.create_future()
            await self._start(loop)
            self._started.set_result(None)
        await self._started
        while not self._idle:
            turn = loop.create_future()
            self._waiting.append(turn)
            await turn
        worker = self._idle.pop()
        worker.answer = loop.create_future()
        worker.transport.write(_FRAME)
        try:
            return await worker.answer
        finally:
            worker.answer = None
            self._idle.append(worker)
            if self._waiting:
                self._waiting.popleft().set_result(None)

    async def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        for _ in range(WORKERS):
            ours, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                ours.close()
                work(theirs)
                os._exit(0)
            theirs.close()
            worker = _Worker()
            await loop.connect_accepted_socket(lambda worker=worker: worker, ours)
            self._idle.append(worker)


_pool = _Pool()


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    answer = orjson.loads(await _pool.call())
    body = answer["body"].encode()
    await send({"type": "http.response.start", "status": answer["statusCode"], "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    serve(app)


if __name__ == "__main__":
    main()
