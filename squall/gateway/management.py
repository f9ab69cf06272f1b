"""The management API under `/_squall/api/`, used by the `squall` CLI."""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from squall import __version__
from squall.errors import SquallError
from squall.deploy.package import MAX_PACKAGE_BYTES
from squall.deploy.snapshot import copy_code_digest, environment_digest
from squall.deploy.variables import DeployVariables, InvalidVariables
from squall.gateway.secrets_api import SecretsApi
from squall.gateway.http import BodyTooLarge, Receive, Send, read_body, respond_json
from squall.manifest.spec import (
    DEFAULT_ROUTE,
    ApiType,
    AsyncConfig,
    HttpEvent,
    ObjectTrigger,
    QueueTrigger,
    ServiceSpec,
    StreamTrigger,
    TableStreamTrigger,
    Trigger,
)
from squall.metering.cost import CostGrouping, CostReport, cost_report
from squall.metering.log_search import build_filter
from squall.metering.pricing import AWS_DURATION_ON_PROVISIONED_GB_SECOND, AWS_LAMBDA_X86, PriceTable
from squall.metering.stats import function_stats, hourly_trend
from squall.versions import InvalidVersionRequest, VersionInUse

if TYPE_CHECKING:
    from squall.server import Platform

logger = logging.getLogger(__name__)

PREFIX = "/_squall/api/"
TREND_BUCKETS = 12
TREND_WINDOW_S = 3600.0
MAX_BODY_BYTES = 1024 * 1024
MAX_DESCRIPTION_CHARS = 256
MAX_LOG_ENTRIES = 10_000


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _version_error_type(error: Exception) -> str:
    """Return the Lambda API's error code for a failed publish or alias request."""
    if isinstance(error, InvalidVersionRequest):
        return "InvalidParameterValueException"
    if isinstance(error, VersionInUse):
        return "ResourceConflictException"
    return type(error).__name__


def _variables(sent: Any) -> DeployVariables | None:
    """Read the deploying shell's stage and `${env:}` values from a deploy request, if it sent any."""
    if sent is None:
        return None
    try:
        return DeployVariables.from_json(sent)
    except InvalidVariables as error:
        raise _BadRequest(f"deploy request: {error}") from None


_SUGGESTED_NAMES = 10  # deployed function names listed after an unknown one


def describe_route(event: HttpEvent) -> str:
    """Describe a route in one line for `squall ls`: "GET /hello/{name}", "ANY /v1/{proxy+} (REST 1.0) -> live".

    An HTTP API route with payload 1.0 events reads "GET /old (HTTP 1.0)". A
    route of an HTTP API with a named stage shows the path it is called at:
    "GET /dev/hello/{name}", or "$default under /dev".
    """
    if event.api is ApiType.HTTP and event.stage is not None:
        path = f"/{event.stage}{event.path}" if event.path != "/" else f"/{event.stage}"
        route = f"{DEFAULT_ROUTE} under /{event.stage}" if event.path == DEFAULT_ROUTE else f"{event.method} {path}"
    else:
        route = event.path if event.path == DEFAULT_ROUTE else f"{event.method} {event.path}"
    if event.payload == "1.0":
        route += " (REST 1.0)" if event.api is ApiType.REST else " (HTTP 1.0)"
    text = route
    return text if event.qualifier is None else f"{text} -> {event.qualifier}"


def describe_trigger(trigger: Trigger) -> str:
    """Describe a trigger in one line for `squall ls`: "queue orders", "schedule rate(5 minutes) UTC"."""
    if isinstance(trigger, QueueTrigger):
        text = f"queue {trigger.queue}"
    elif isinstance(trigger, ObjectTrigger):
        kinds = sorted({_object_kind(kind) for kind in trigger.events})
        text = f"objects {trigger.bucket} {'/'.join(kinds)} {trigger.prefix}*{trigger.suffix}"
    elif isinstance(trigger, TableStreamTrigger):
        text = f"table_stream {trigger.table}"
    elif isinstance(trigger, StreamTrigger):
        text = f"stream {trigger.stream}"
    else:
        text = f"schedule {trigger.expression} {trigger.timezone}"
    if trigger.qualifier is not None:
        text += f" -> {trigger.qualifier}"
    enabled = getattr(trigger, "enabled", True)
    return text if enabled else text + " (disabled)"


def _object_kind(kind: str) -> str:
    # SAM and serverless.yml use S3's event names ("s3:ObjectCreated:*"), while squall.yml uses "created".
    if "Created" in kind:
        return "created"
    if "Removed" in kind:
        return "removed"
    return kind


def describe_destinations(config: AsyncConfig) -> list[str]:
    """Describe where a function's asynchronous outcomes go: "on_failure: queue orders-dlq"."""
    return [f"{label}: {destination.kind} {destination.name}" for label, destination in config.destinations()]


class ManagementApi:
    """Lists, deploys, and reads logs and statistics of the running platform."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._routes = {
            ("GET", "health"): self._health,
            ("GET", "functions"): self._functions,
            ("POST", "deploy"): self._deploy,
            ("POST", "remove"): self._remove,
            ("POST", "upload"): self._upload,
            ("GET", "installs"): self._installs,
            ("GET", "logs"): self._logs,
            ("GET", "stats"): self._stats,
            ("GET", "cost"): self._cost,
            ("POST", "publish"): self._publish,
            ("GET", "versions"): self._versions,
            ("POST", "alias"): self._alias,
            ("DELETE", "alias"): self._alias_remove,
        }
        # Platforms built by tests may have no secret store.
        secret_store = getattr(platform, "secrets", None)
        if secret_store is not None:
            self._routes.update(SecretsApi(secret_store, platform).routes())

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        name = scope["path"][len(PREFIX) :].strip("/")
        handler = self._routes.get((scope["method"], name))
        if handler is None:
            known = ", ".join(f"{m} {PREFIX}{n}" for m, n in self._routes)
            await respond_json(send, 404, _error("NotFound", f"no API at {scope['method']} {scope['path']}; known: {known}"))
            return
        query = _Query(parse_qs(scope.get("query_string", b"").decode("latin-1")))
        try:
            status, data = await handler(query, receive)
        except _BadRequest as error:
            status, data = 400, _error("InvalidParameterValue", str(error))
        await respond_json(send, status, data)

    async def _health(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        return 200, {"status": "ok", "version": __version__, "region": self._platform.dispatcher.settings.region}

    async def _installs(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Return the requirement installs running now, with their progress, for `squall deploy` to draw."""
        board = getattr(self._platform, "installs", None)
        return 200, {"installs": board.snapshot() if board is not None else []}

    async def _functions(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        dispatcher = self._platform.dispatcher
        functions = []
        for service in dispatcher.services.values():
            for spec in service.functions.values():
                # Instances of published versions count too: an alias may take all the traffic.
                pools = dispatcher.function_pools(spec.name)
                functions.append(
                    {
                        "name": spec.name,
                        # The name AWS would deploy it under, which the Invoke API also takes.
                        "aws_name": spec.aws_name,
                        "service": service.service,
                        "handler": spec.handler,
                        "memory_mb": spec.memory_mb,
                        "timeout_s": spec.timeout_s,
                        "reserved_concurrency": spec.reserved_concurrency,
                        "provisioned": spec.provisioned,
                        "routes": [describe_route(event) for event in spec.http],
                        # The same routes as data, for a plan to check against its own.
                        "http": [
                            {"method": event.method, "path": event.path, "payload": event.payload,
                             "stage": event.stage, "api": event.api.value if event.api else None}
                            for event in spec.http
                        ],
                        "triggers": [describe_trigger(trigger) for trigger in spec.triggers],
                        "destinations": describe_destinations(spec.async_config),
                        # The code copy's digest, and a digest of the environment that shows no value.
                        "code": Path(service.root).name,
                        "code_files": copy_code_digest(Path(service.root), spec.code_dir),
                        "environment_digest": environment_digest(spec.environment),
                        # One digest per variable, so a plan can name the variables that change.
                        "environment_digests": {
                            name: environment_digest({name: value}) for name, value in spec.environment.items()
                        },
                        "layers": list(spec.layers),
                        "instances": {
                            "idle": sum(pool.idle_count for pool in pools),
                            "busy": sum(pool.busy_count for pool in pools),
                            # Calls queued for an instance: at the function's cap, or short of node memory.
                            "waiting": sum(pool.waiting_count for pool in pools),
                            # Provisioned instances initialised now; fewer than "provisioned" while memory is short.
                            "provisioned_ready": sum(pool.provisioned_ready for pool in pools if not pool.retiring),
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
        variables = _variables(request.get("variables"))
        return await _deploy_answer(self._platform.deploy_folder(Path(folder), variables), self._platform.unchanged)

    async def _upload(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Deploy a service sent as a .tar.gz package, for servers that cannot read the client's folder."""
        try:
            package = await read_body(receive, MAX_PACKAGE_BYTES)
        except BodyTooLarge:
            return 413, _error("PackageTooLarge", f"the package exceeds {MAX_PACKAGE_BYTES} bytes")
        if not package:
            raise _BadRequest("upload request needs a .tar.gz package as its body")
        raw = query.get("variables")
        try:
            sent = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as error:
            raise _BadRequest(f"query parameter variables is not valid JSON: {error}") from None
        return await _deploy_answer(self._platform.deploy_package(package, _variables(sent)), self._platform.unchanged)

    async def _remove(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        name = _text_field(await _json_request(receive, "remove"), "service", "remove")
        try:
            functions = await self._platform.remove(name)
        except SquallError as error:
            return 404, _error("ServiceNotFound", str(error))
        warnings = _orphaned_destinations(self._platform.dispatcher.services.values(), set(functions))
        for warning in warnings:
            logger.warning("%s", warning)
        return 200, {"service": name, "functions": functions, "warnings": warnings}

    # Versions and aliases

    async def _publish(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Publish the deployed code and settings of `function` as its next version."""
        store = self._version_store()
        request = await _json_request(receive, "publish")
        function = _text_field(request, "function", "publish")
        description = request.get("description") or ""
        if not isinstance(description, str):
            raise _BadRequest(f"publish request: description must be a string, got {description!r}")
        if len(description) > MAX_DESCRIPTION_CHARS:
            # Lambda's limit on a version's description.
            raise _BadRequest(
                f"publish request: description is {len(description)} characters long, at most {MAX_DESCRIPTION_CHARS} are allowed"
            )
        service = next((s for s in self._platform.dispatcher.services.values() if function in s.functions), None)
        if service is None:
            return 404, _error(
                "ResourceNotFoundException", f"function not found: {function!r}{self._suggest(function)}; deploy it first"
            )
        manifest = service.root / service.manifest_path.name
        published = await asyncio.to_thread(store.versions, function)
        try:
            version = await asyncio.to_thread(
                store.publish, function, service.service, service.root, description, manifest=manifest
            )
        except SquallError as error:
            return 400, _error(_version_error_type(error), str(error))
        # As on Lambda, unchanged code and settings give back the latest version, with its own description.
        existing = next((v for v in published if v.version == version), None)
        return 200, {
            "function": function,
            "version": str(version),
            "description": existing.description if existing else description,
            "created": existing is None,
        }

    async def _versions(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """List the published versions and the aliases of `?function=NAME`."""
        store = self._version_store()
        function = query.get("function") or ""
        if not function:
            raise _BadRequest("versions request needs ?function=NAME")
        versions = await asyncio.to_thread(store.versions, function)
        aliases = await asyncio.to_thread(store.aliases, function)
        if not versions and not self._deployed(function):
            return self._function_not_found(function)
        return 200, {
            "function": function,
            "versions": [
                {
                    "version": str(v.version),
                    "description": v.description,
                    "created_at": v.created_at,
                    "root": str(v.root),
                    "code": v.root.name,  # the code copy's folder is named by the digest of its content
                }
                for v in versions
            ],
            "aliases": [
                {
                    "name": a.name,
                    "version": a.version,
                    "weights": {} if a.extra_version is None else {str(a.extra_version): a.extra_weight},
                }
                for a in aliases
            ],
        }

    async def _alias(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Create or move an alias: {"function", "alias", "version", "weights": {"VERSION": FRACTION}}."""
        store = self._version_store()
        request = await _json_request(receive, "alias")
        function = _text_field(request, "function", "alias")
        alias = _text_field(request, "alias", "alias")
        version = _text_field(request, "version", "alias")
        weights = request.get("weights") or {}
        if not isinstance(weights, dict):
            raise _BadRequest(f'alias request: weights must be an object such as {{"2": 0.1}}, got {weights!r}')
        try:
            extra = {int(key): float(value) for key, value in weights.items()}
        except (TypeError, ValueError):
            raise _BadRequest(f"alias request: weights must map version numbers to fractions, got {weights!r}") from None
        if not await self._has_function(store, function):
            return self._function_not_found(function)
        try:
            result = await asyncio.to_thread(store.set_alias, function, alias, version, extra)
        except LookupError as error:
            return 404, _error("ResourceNotFoundException", str(error))
        except SquallError as error:
            return 400, _error(_version_error_type(error), str(error))
        alias_moved = getattr(self._platform, "alias_moved", None)
        if alias_moved is not None:
            await alias_moved(function, result.name, result.version)
        return 200, {"function": function, "alias": result.name, "version": result.version, "weights": weights}

    async def _alias_remove(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Delete `?alias=ALIAS` of `?function=NAME`, unless the deployed manifest or one of its events uses it."""
        store = self._version_store()
        function = query.get("function") or ""
        alias = query.get("alias") or ""
        if not function or not alias:
            raise _BadRequest("alias removal needs ?function=NAME&alias=ALIAS")
        if not await self._has_function(store, function):
            return self._function_not_found(function)
        users = _alias_users(self._platform.dispatcher.services.values(), function, alias)
        if users:
            return 409, _error(
                "ResourceConflictException",
                f"alias {alias!r} of {function!r} is used by {' and '.join(users)}, so the next deploy or call would "
                "need it again; change the manifest first",
            )
        try:
            removed = await asyncio.to_thread(store.delete_alias, function, alias)
        except LookupError as error:
            return 404, _error("ResourceNotFoundException", str(error))
        return 200, {"function": function, "alias": removed.name, "version": removed.version}

    def _deployed(self, function: str) -> bool:
        return any(function in service.functions for service in self._platform.dispatcher.services.values())

    async def _has_function(self, store: Any, function: str) -> bool:
        """Tell whether `function` is deployed or has published versions."""
        return self._deployed(function) or bool(await asyncio.to_thread(store.versions, function))

    def _function_not_found(self, function: str) -> tuple[int, Any]:
        return 404, _error("ResourceNotFoundException", f"function not found: {function!r}{self._suggest(function)}")

    def _suggest(self, function: str) -> str:
        """Return " (did you mean 'greet'?)" for a name close to a deployed function's, else the deployed names."""
        names = sorted(name for service in self._platform.dispatcher.services.values() for name in service.functions)
        close = difflib.get_close_matches(function, names, n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
        if not names:
            return " (no functions are deployed)"
        listed = ", ".join(names[:_SUGGESTED_NAMES]) + (", ..." if len(names) > _SUGGESTED_NAMES else "")
        return f" (deployed: {listed})"

    def _version_store(self) -> Any:
        # Platforms built by tests may have no version store.
        store = getattr(self._platform, "versions", None)
        if store is None:
            raise _BadRequest("this server keeps no function versions")
        return store

    async def _logs(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Return log entries; `contains` and repeated `field=KEY=VALUE` keep entries with a matching line."""
        function = query.get("function") or None
        if function is not None:
            # Also by its AWS name, as a log group is named.
            function = self._platform.dispatcher.function_name(function)
        since = _number(query, "since", float)
        until = _number(query, "until", float)
        after = _number(query, "after", int)
        limit = _number(query, "limit", int) or 1000
        if limit < 1:
            raise _BadRequest(f"query parameter limit: expected a whole number of at least 1, got {limit}")
        if since is not None and until is not None and since > until:
            raise _BadRequest(f"query parameters since ({since}) and until ({until}): since must not be after until")
        fields = query.all("field") if isinstance(query, _Query) else []
        try:
            line_filter = build_filter(query.get("contains"), fields)
        except ValueError as error:
            raise _BadRequest(str(error)) from None

        entries = await asyncio.to_thread(
            self._platform.store.logs,
            function=function,
            since=since,
            until=until,
            after_id=after,
            request_id=query.get("request_id") or None,
            limit=min(limit, MAX_LOG_ENTRIES),
            # Without a cursor the caller wants the latest entries, not the first ever written.
            newest=after is None,
            line_filter=line_filter,
        )
        # A function that is gone keeps its logs; only a name never seen is an error.
        if function is not None and not entries and not await self._function_known(function):
            return 404, _error(
                "FunctionNotFound", f"function not found: {function!r}{self._suggest(function)}, and no logs are stored for it"
            )
        rows = []
        for entry in entries:
            row: dict[str, Any] = {
                "id": entry.id,
                "function": entry.function,
                "request_id": entry.request_id,
                "time": entry.time,
                "text": entry.text,
            }
            if line_filter is not None:
                row["matches"] = line_filter.matching_lines(entry.text)
            rows.append(row)
        return 200, {"entries": rows}

    async def _function_known(self, function: str) -> bool:
        if function in self._platform.dispatcher.pools:
            return True
        stored = await asyncio.to_thread(self._platform.store.logs, function=function, limit=1)
        return bool(stored)

    async def _stats(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        since = _number(query, "since", float)
        prices = _prices(self._platform.prices, query)
        by_version = query.get("by") == "version"
        records = await asyncio.to_thread(self._platform.store.records, since=since)
        stats = function_stats(records, prices, by_version)
        now = time.time()
        recent = await asyncio.to_thread(self._platform.store.records, since=now - TREND_WINDOW_S)
        trend = hourly_trend(recent, now, by_version=by_version)
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
                    # Invocations in each five minutes of the last hour, oldest first.
                    "trend": trend.get(str(data["function"]), [0] * TREND_BUCKETS),
                }
            )
        return 200, {
            "functions": rows,
            "price": {"name": prices.name, "per_gb_second": prices.per_gb_second, "per_request": prices.per_request},
        }


    async def _cost(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        """Return usage and cost grouped by `by` (function, day or trigger) since `since`."""
        since = _number(query, "since", float)
        try:
            grouping = CostGrouping.parse(query.get("by") or CostGrouping.FUNCTION.value)
        except ValueError as error:
            raise _BadRequest(f"query parameter by: {error}") from None
        prices = _prices(self._platform.prices, query)
        store = self._platform.store
        records = await asyncio.to_thread(store.records, since=since)
        usage = await asyncio.to_thread(store.usage, since=since)
        report = cost_report(records, usage, grouping, prices, since=since)
        return 200, _cost_body(report, since)


def _cost_body(report: CostReport, since: float | None) -> dict[str, Any]:
    grouping = report.grouping
    return {
        "by": grouping.value,
        "since": since,
        "rows": [row.to_dict(grouping) for row in report.rows],
        "total": report.total.to_dict(grouping),
        "price": _describe_prices(report.prices),
        "aws_price": {
            **_describe_prices(AWS_LAMBDA_X86),
            "per_gb_second_on_provisioned": AWS_DURATION_ON_PROVISIONED_GB_SECOND,
        },
    }


def _describe_prices(prices: PriceTable) -> dict[str, Any]:
    return {
        "name": prices.name,
        "per_gb_second": prices.per_gb_second,
        "per_request": prices.per_request,
        "per_provisioned_gb_second": prices.per_provisioned_gb_second,
    }


def _prices(default: PriceTable, query: dict[str, str]) -> PriceTable:
    """Return `default`, or a "custom" table when the query overrides any of its prices."""
    per_gb_second = _number(query, "per_gb_second", float)
    per_request = _number(query, "per_request", float)
    per_provisioned = _number(query, "per_provisioned_gb_second", float)
    if per_gb_second is None and per_request is None and per_provisioned is None:
        return default
    try:
        return PriceTable(
            per_gb_second=default.per_gb_second if per_gb_second is None else per_gb_second,
            per_request=default.per_request if per_request is None else per_request,
            name="custom",
            per_provisioned_gb_second=(
                default.per_provisioned_gb_second if per_provisioned is None else per_provisioned
            ),
        )
    except ValueError as error:
        raise _BadRequest(str(error)) from None


class _Query(dict[str, str]):
    """The last value of each query parameter, with every value still at hand for repeated ones."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        super().__init__({key: items[-1] for key, items in values.items()})
        self._values = values

    def all(self, key: str) -> list[str]:
        return list(self._values.get(key, []))


class _BadRequest(Exception):
    pass


async def _deploy_answer(deploying: Awaitable[ServiceSpec], unchanged: set[str]) -> tuple[int, Any]:
    """Run a deploy and return the status and body of the response: the service and its functions, or the error.

    `unchanged` names the services whose last deploy changed nothing.
    """
    try:
        service = await deploying
    except (SquallError, ValueError) as error:
        # The server's log records the failure too, because the running version keeps serving.
        logger.warning("deploy failed, the running version keeps serving: %s", error)
        kind = "DeployError" if isinstance(error, ValueError) else type(error).__name__
        return 400, _error(kind, str(error))
    warnings = [f"{service.manifest_path.name}: {warning}" for warning in service.warnings]
    return 200, {
        "service": service.service,
        "functions": list(service.functions),
        "warnings": warnings,
        "unchanged": service.service in unchanged,
    }


async def _json_request(receive: Receive, operation: str) -> dict[str, Any]:
    try:
        request = orjson.loads(await read_body(receive, MAX_BODY_BYTES) or b"{}")
    except BodyTooLarge:
        raise _BadRequest(f"{operation} request exceeds {MAX_BODY_BYTES} bytes") from None
    except orjson.JSONDecodeError as error:
        raise _BadRequest(f"{operation} request is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise _BadRequest(f"{operation} request must be a JSON object, got {request!r}")
    return request


def _orphaned_destinations(services: Iterable[ServiceSpec], removed: set[str]) -> list[str]:
    """Describe each destination of a remaining function that names one of the `removed` functions."""
    warnings = []
    for service in services:
        for spec in service.functions.values():
            for setting, destination in spec.async_config.destinations():
                if destination.kind == "function" and destination.name in removed:
                    warnings.append(
                        f"function {spec.name} of service {service.service} sends its {setting} records to "
                        f"{destination.name}, which is gone: they are lost until it is deployed again"
                    )
    return warnings


def _alias_users(services: Iterable[ServiceSpec], function: str, alias: str) -> list[str]:
    """Describe what of the deployed manifests names `alias` of `function`: its auto-publish alias, routes, triggers."""
    users: list[str] = []
    for service in services:
        spec = service.functions.get(function)
        if spec is None:
            continue
        if spec.auto_publish_alias == alias:
            users.append(f"the {service.function_key(function, 'auto_publish_alias')} setting of {service.manifest_path.name}")
        users += [f"route {event.method} {event.path}" for event in spec.http if event.qualifier == alias]
        users += [f"trigger {describe_trigger(trigger)}" for trigger in spec.triggers if trigger.qualifier == alias]
    return users


def _text_field(request: dict[str, Any], key: str, operation: str) -> str:
    value = request.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{operation} request needs a non-empty {key!r}, got {value!r}")
    return value


# The value each numeric query parameter of the management API takes, named in its error message.
_NUMBER_MEANINGS = {
    "since": "a Unix time in seconds, such as 1767225600",
    "until": "a Unix time in seconds, such as 1767225600",
    "after": "a log entry id (a whole number)",
    "limit": "a whole number of entries",
    "per_gb_second": "a price in USD per GB-second, such as 0.0000166667",
    "per_request": "a price in USD per request, such as 0.0000002",
    "per_provisioned_gb_second": "a price in USD per GB-second, such as 0.0000041667",
}


def _number(query: dict[str, str], key: str, kind: type) -> Any:
    value = query.get(key)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        meaning = _NUMBER_MEANINGS.get(key, "a whole number" if kind is int else "a number")
        raise _BadRequest(f"query parameter {key}: expected {meaning}, got {value!r}") from None
