"""A fake Squall API on an httpx.MockTransport, and helpers shared by the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
FIXED_NOW = 1_700_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status_code, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def recorded_aws(snapshot: str, test: str, key: str) -> dict[str, Any]:
    """Return one recorded AWS response from a LocalStack snapshot file of the conformance folder."""
    data = json.loads((CONFORMANCE / "aws-recorded" / snapshot).read_text(encoding="utf-8"))
    return data[test]["recorded-content"][key]


@dataclass
class FakeApi:
    """Routes (method, path) to handlers and records every request the CLI sends."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def respond(
        self, method: str, path: str, status_code: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.route(method, path, lambda request: json_response(status_code, body, headers))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return json_response(
                404, {"error": {"type": "NotFound", "message": f"no fake route {request.method} {request.url.path}"}}
            )
        return handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@dataclass
class Recorder:
    """Stands in for time.sleep, recording each pause instead of waiting."""

    pauses: list[float] = field(default_factory=list)
    on_pause: Callable[[int], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if self.on_pause is not None:
            self.on_pause(len(self.pauses))
