"""The data services as the server runs them: one store each, called off the event loop.

Each service package has an `api` module with a table of operations,
`OPERATIONS: dict[str, Callable[[store, Args], Any]]`, run on a worker
thread, and optionally `ASYNC_OPERATIONS` (coroutines that take the hub,
for long polling), `WRITES` (operations that add data), `TRACED` (operations
that also take the caller's W3C traceparent as a third argument) and
`RESOURCE_ARGUMENT` (the argument naming the queue, bucket, table or stream).
After a write, the hub wakes whatever waits on that resource: long polls and
triggers.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from squall.services.args import Args, to_json
from squall.services.errors import InvalidParameter, ResourceNotFound

logger = logging.getLogger(__name__)

SERVICES = ("queues", "objects", "tables", "streams")
# SQLite releases the GIL while it works, so a few threads let a slow call
# (a large object, a long scan) run beside quick ones.
WORKER_THREADS = 4
# Expired items deleted per transaction by the TTL sweep.
SWEEP_BATCH = 1000
SWEEP_INTERVAL_VARIABLE = "SQUALL_SWEEP_INTERVAL_S"
DEFAULT_SWEEP_INTERVAL_S = 30.0


def sweep_interval_from_environment() -> float:
    """Read SQUALL_SWEEP_INTERVAL_S (seconds between TTL and retention sweeps, default 30)."""
    text = os.environ.get(SWEEP_INTERVAL_VARIABLE)
    if not text:
        return DEFAULT_SWEEP_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{SWEEP_INTERVAL_VARIABLE}={text!r} is invalid: expected seconds above 0, such as 30")
    return value


def _open_store(service: str, data_dir: Path, region: str, account: str) -> Any:
    if service == "queues":
        from squall.services.queues import SqliteQueues

        return SqliteQueues(data_dir / "queues.db", region=region, account_id=account)
    if service == "objects":
        from squall.services.objects import FileObjects

        return FileObjects(data_dir / "objects")
    if service == "tables":
        from squall.services.tables import SqliteTables

        return SqliteTables(data_dir / "tables.db")
    from squall.services.streams import SqliteStreams

    return SqliteStreams(data_dir / "streams.db")


class ServiceHub:
    """Opens each service's store on first use and runs its operations."""

    def __init__(self, data_dir: Path, region: str = "us-east-1", account: str = "000000000000") -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.account = account
        self._stores: dict[str, Any] = {}
        self._executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="squall-services")
        self._changes: dict[tuple[str, str], asyncio.Event] = {}

    def store(self, service: str) -> Any:
        """Return the service's store, opening it on first use."""
        if service not in SERVICES:
            raise ResourceNotFound(f"service {service!r} not found, expected one of: {', '.join(SERVICES)}")
        store = self._stores.get(service)
        if store is None:
            store = _open_store(service, self.data_dir, self.region, self.account)
            self._stores[service] = store
        return store

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking store call on a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def call(
        self, service: str, operation: str, values: dict[str, Any], traceparent: str | None = None
    ) -> Any:
        """Run one operation of the HTTP API and return its JSON-ready result.

        `traceparent` reaches the operation only when its service lists it in
        `TRACED`. The store keeps it with the data written, so that a trigger
        fired by that data joins the caller's trace. Other operations ignore it.
        """
        api = _api(service)
        _check_argument_names(service, operation, values, getattr(api, "ARGUMENTS", {}).get(operation))
        args = Args(operation, values)
        coroutine = getattr(api, "ASYNC_OPERATIONS", {}).get(operation)
        if coroutine is not None:
            result = await coroutine(self, args)
        else:
            handler = api.OPERATIONS.get(operation)
            if handler is None:
                known = sorted({*api.OPERATIONS, *getattr(api, "ASYNC_OPERATIONS", {})})
                raise InvalidParameter(
                    f"operation {operation!r} not found in service {service!r}, expected one of: {', '.join(known)}"
                )
            store = await self.run(self.store, service)
            if traceparent is not None and operation in getattr(api, "TRACED", ()):
                result = await self.run(handler, store, args, traceparent)
            else:
                result = await self.run(handler, store, args)
        if operation in getattr(api, "WRITES", ()):
            resource = values.get(getattr(api, "RESOURCE_ARGUMENT", ""))
            if isinstance(resource, str):
                self.notify(service, resource)
        return to_json(result)

    def error_code(self, service: str, code: str) -> str:
        """Return the code the HTTP API reports for an error: the AWS service's own code where it differs."""
        if service not in SERVICES:
            return code
        return getattr(_api(service), "ERROR_CODES", {}).get(code, code)

    # Waking waiters

    def notify(self, service: str, resource: str) -> None:
        """Wake everything waiting for new data in one queue, bucket, table or stream."""
        event = self._changes.pop((service, resource), None)
        if event is not None:
            event.set()

    async def wait_for_change(self, service: str, resource: str, timeout_s: float) -> bool:
        """Wait until `notify` is called for the resource; return False on timeout."""
        event = self._changes.setdefault((service, resource), asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # Housekeeping

    async def sweep_forever(self, interval_s: float) -> None:
        """Delete expired table items and stream records every `interval_s` seconds."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next sweep tries again
                logger.exception("sweeping expired items and records failed; retrying in %.0f s", interval_s)

    async def sweep(self) -> None:
        """Run one pass of the TTL sweep of tables and the retention sweep of streams."""
        tables = await self._existing_store("tables", "tables.db")
        if tables is not None:
            while await self.run(tables.expire, SWEEP_BATCH):
                # Each expiry writes a REMOVE change, which table-stream triggers wait for.
                for name in await self.run(tables.list_tables):
                    self.notify("tables", name)
        streams = await self._existing_store("streams", "streams.db")
        if streams is not None:
            await self.run(streams.trim)

    async def _existing_store(self, service: str, file_name: str) -> Any:
        # A service never used has no file yet, and nothing to sweep.
        if service in self._stores or (self.data_dir / file_name).exists():
            return await self.run(self.store, service)
        return None

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for service, store in self._stores.items():
            try:
                store.close()
            except Exception:  # noqa: BLE001 - close the other stores anyway
                logger.exception("closing the %s store failed", service)
        self._stores.clear()


def _check_argument_names(service: str, operation: str, values: dict[str, Any], known: Any) -> None:
    """Reject an argument the operation does not read, so that a misspelt option is never ignored."""
    if known is None:
        return
    for name in values:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = ", ".join(known) if known else "none"
            raise InvalidParameter(
                f"{service}.{operation}: unknown argument {name!r}{hint}; valid arguments: {valid}"
            )


def _api(service: str) -> Any:
    if service not in SERVICES:
        raise ResourceNotFound(f"service {service!r} not found, expected one of: {', '.join(SERVICES)}")
    return importlib.import_module(f"squall.services.{service}.api")
