"""The management API under `/_squall/api/`, used by the `squall` CLI."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from squall import __version__
from squall.errors import ManifestError, SquallError
from squall.gateway.http import BodyTooLarge, Receive, Send, read_body, respond_json
from squall.manifest.spec import ObjectTrigger, QueueTrigger, StreamTrigger, TableStreamTrigger, Trigger
from squall.metering.pricing import PriceTable
from squall.metering.stats import function_stats

if TYPE_CHECKING:
    from squall.server import Platform

logger = logging.getLogger(__name__)

PREFIX = "/_squall/api/"
MAX_BODY_BYTES = 1024 * 1024


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def describe_trigger(trigger: Trigger) -> str:
    """Describe a trigger in one line for `squall ls`: "queue orders", "schedule rate(5 minutes) UTC"."""
    if isinstance(trigger, QueueTrigger):
        text = f"queue {trigger.queue}"
    elif isinstance(trigger, ObjectTrigger):
        text = f"objects {trigger.bucket} {'/'.join(trigger.events)} {trigger.prefix}*{trigger.suffix}"
    elif isinstance(trigger, TableStreamTrigger):
        text = f"table_stream {trigger.table}"
    elif isinstance(trigger, StreamTrigger):
        text = f"stream {trigger.stream}"
    else:
        text = f"schedule {trigger.expression} {trigger.timezone}"
    enabled = getattr(trigger, "enabled", True)
    return text if enabled else text + " (disabled)"


class ManagementApi:
    """Lists, deploys, and reads logs and statistics of the running platform."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._routes = {
            ("GET", "health"): self._health,
            ("GET", "functions"): self._functions,
            ("POST", "deploy"): self._deploy,
            ("GET", "logs"): self._logs,
            ("GET", "stats"): self._stats,
        }

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        name = scope["path"][len(PREFIX) :].strip("/")
        handler = self._routes.get((scope["method"], name))
        if handler is None:
            known = ", ".join(f"{m} {PREFIX}{n}" for m, n in self._routes)
            await respond_json(send, 404, _error("NotFound", f"no API at {scope['method']} {scope['path']}; known: {known}"))
            return
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            status, data = await handler(query, receive)
        except _BadRequest as error:
            status, data = 400, _error("InvalidParameterValue", str(error))
        await respond_json(send, status, data)

    async def _health(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        return 200, {"status": "ok", "version": __version__}

    async def _functions(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        dispatcher = self._platform.dispatcher
        functions = []
        for service in dispatcher.services.values():
            for spec in service.functions.values():
                pool = dispatcher.pools.get(spec.name)
                functions.append(
                    {
                        "name": spec.name,
                        "service": service.service,
                        "handler": spec.handler,
                        "memory_mb": spec.memory_mb,
                        "timeout_s": spec.timeout_s,
                        "reserved_concurrency": spec.reserved_concurrency,
                        "provisioned": spec.provisioned,
                        "routes": [f"{e.method} {e.path}" + (" (REST 1.0)" if e.payload == "1.0" else "") for e in spec.http],
                        "triggers": [describe_trigger(trigger) for trigger in spec.triggers],
                        "instances": {
                            "idle": pool.idle_count if pool else 0,
                            "busy": pool.busy_count if pool else 0,
                        },
                        "version": "$LATEST",
                    }
                )
        return 200, {"functions": functions}

    async def _deploy(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
            request = orjson.loads(body or b"{}")
        except BodyTooLarge:
            raise _BadRequest(f"deploy request exceeds {MAX_BODY_BYTES} bytes") from None
        except orjson.JSONDecodeError as error:
            raise _BadRequest(f"deploy request is not valid JSON: {error}") from None
        folder = request.get("folder") if isinstance(request, dict) else None
        if not isinstance(folder, str) or not folder:
            raise _BadRequest(f'deploy request needs {{"folder": "/absolute/path"}}, got {request!r}')
        if not Path(folder).is_dir():
            raise _BadRequest(f"folder not found on the server: {folder!r}")
        try:
            service = await self._platform.deploy_folder(Path(folder))
        except ManifestError as error:
            return 400, _error("ManifestError", str(error))
        except SquallError as error:
            return 400, _error(type(error).__name__, str(error))
        except ValueError as error:
            return 400, _error("DeployError", str(error))
        warnings = [f"{service.manifest_path.name}: {warning}" for warning in service.warnings]
        return 200, {"service": service.service, "functions": list(service.functions), "warnings": warnings}

    async def _logs(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        function = query.get("function") or None
        since = _number(query, "since", float)
        after = _number(query, "after", int)
        limit = _number(query, "limit", int) or 1000
        if limit < 1:
            raise _BadRequest(f"query parameter limit: expected a whole number of at least 1, got {limit}")
        entries = await asyncio.to_thread(
            self._platform.store.logs,
            function=function,
            since=since,
            after_id=after,
            request_id=query.get("request_id") or None,
            limit=min(limit, 10_000),
            # Without a cursor the caller wants the latest entries, not the first ever written.
            newest=after is None,
        )
        # A function that is gone keeps its logs; only a name never seen is an error.
        if function is not None and not entries and function not in self._platform.dispatcher.pools:
            return 404, _error("FunctionNotFound", f"function not found: {function!r}, and no logs are stored for it")
        return 200, {
            "entries": [
                {"id": e.id, "function": e.function, "request_id": e.request_id, "time": e.time, "text": e.text}
                for e in entries
            ]
        }

    async def _stats(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        since = _number(query, "since", float)
        prices = self._platform.prices
        per_gb_second = _number(query, "per_gb_second", float)
        per_request = _number(query, "per_request", float)
        if per_gb_second is not None or per_request is not None:
            try:
                prices = PriceTable(
                    per_gb_second=prices.per_gb_second if per_gb_second is None else per_gb_second,
                    per_request=prices.per_request if per_request is None else per_request,
                    name="custom",
                )
            except ValueError as error:
                raise _BadRequest(str(error)) from None
        records = await asyncio.to_thread(self._platform.store.records, since=since)
        stats = function_stats(records, prices)
        rows = []
        for item in stats:
            data = item.to_dict()
            rows.append(
                {
                    "name": data["function"],
                    "invocations": data["invocations"],
                    "errors": data["errors"],
                    "throttles": data["throttles"],
                    "cold_starts": data["cold_starts"],
                    "p50_ms": data["p50_ms"],
                    "p95_ms": data["p95_ms"],
                    "p99_ms": data["p99_ms"],
                    "gb_seconds": data["gb_seconds"],
                    "cost_usd": data["cost"],
                }
            )
        return 200, {
            "functions": rows,
            "price": {"name": prices.name, "per_gb_second": prices.per_gb_second, "per_request": prices.per_request},
        }


class _BadRequest(Exception):
    pass


def _number(query: dict[str, str], key: str, kind: type) -> Any:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        raise _BadRequest(f"query parameter {key}: expected a {kind.__name__}, got {value!r}") from None
