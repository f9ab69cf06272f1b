"""The baseline HTTP server: a hello-world ASGI app on uvicorn with httptools and uvloop.

Run as `python -m bench.apps.bare_asgi`; it binds 127.0.0.1 on a free port
and prints `serving on http://127.0.0.1:PORT` once it listens. It uses the
same HTTP server and event loop as Squall, one process, so the difference
the warm benchmark measures is Squall's own work per request.
"""

from __future__ import annotations

import socket
from typing import Any, Awaitable, Callable

import uvicorn

_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})


def main() -> None:
    serve(app)


def serve(asgi_app: Callable[..., Awaitable[None]]) -> None:
    """Serve `asgi_app` as the benchmarks' baselines run: uvicorn, httptools, uvloop, a free port on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(
        asgi_app, loop="uvloop", http="httptools", lifespan="off", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    print(f"serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
