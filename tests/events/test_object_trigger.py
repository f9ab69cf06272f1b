"""Object triggers against the real file object store, with a recording stand-in for the async queue."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from squall.dispatcher.dispatcher import Invocation
from squall.errors import FunctionNotFound
from squall.events.object_trigger import STATE_FILE, ObjectTriggers
from squall.manifest.spec import FunctionSpec, ObjectTrigger, ServiceSpec
from squall.services.errors import StorageFull
from squall.services.hub import ServiceHub

WAIT_S = 5.0
PNG_IMAGES = ObjectTrigger("uploads", ("created",), "images/", ".png")
REMOVALS = ObjectTrigger("uploads", ("removed",))


class RecordingInvoker:
    """Stands in for AsyncInvoker: records accepted invocations, or raises the errors queued for a function."""

    def __init__(self) -> None:
        self.accepted: list[Invocation] = []
        self.errors: dict[str, list[Exception]] = {}
        self.gate: asyncio.Event | None = None  # when set, accept waits for it
        self.calls = 0

    async def accept(self, invocation: Invocation) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        queued = self.errors.get(invocation.function)
        if queued:
            raise queued.pop(0)
        self.accepted.append(invocation)

    def keys(self, function: str) -> list[str]:
        return [
            event["Records"][0]["s3"]["object"]["key"]
            for invocation in self.accepted
            if invocation.function == function
            for event in [orjson.loads(invocation.payload)]
        ]


def services(functions: dict[str, tuple[ObjectTrigger, ...]], name: str = "app") -> dict[str, ServiceSpec]:
    root = Path("/srv") / name
    specs = {
        function: FunctionSpec(name=function, handler=f"handlers.{function}", triggers=triggers)
        for function, triggers in functions.items()
    }
    return {name: ServiceSpec(service=name, root=root, manifest_path=root / "squall.yml", functions=specs)}


async def wait_until(condition: Callable[[], Any], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.01)


def open_hub(folder: Path) -> ServiceHub:
    hub = ServiceHub(folder)
    store = hub.store("objects")
    for bucket in ("uploads", "other"):
        if bucket not in {info.name for info in store.list_buckets()}:
            store.create_bucket(bucket)
    return hub


def put(hub: ServiceHub, bucket: str, key: str, data: bytes = b"data") -> None:
    hub.store("objects").put(bucket, key, data)
    hub.notify("objects", bucket)


def delete(hub: ServiceHub, bucket: str, key: str) -> None:
    hub.store("objects").delete(bucket, key)
    hub.notify("objects", bucket)


def handed_on(hub: ServiceHub, triggers: ObjectTriggers) -> bool:
    """Return whether every logged change has been handed on."""
    return not hub.store("objects").events(triggers.checkpoint, 1)


def stored_checkpoint(hub: ServiceHub) -> int:
    connection = sqlite3.connect(hub.data_dir / STATE_FILE)
    try:
        row = connection.execute("SELECT seq FROM checkpoint").fetchone()
    finally:
        connection.close()
    return 0 if row is None else row[0]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[ServiceHub]:
    opened = open_hub(tmp_path / "services")
    yield opened
    opened.close()


@pytest.fixture
async def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
async def open_triggers(hub: ServiceHub, invoker: RecordingInvoker) -> AsyncIterator[Callable[..., ObjectTriggers]]:
    """Open ObjectTriggers on the hub with short delays; all are closed at the end."""
    opened: list[ObjectTriggers] = []

    def _open(**options: Any) -> ObjectTriggers:
        settings = {"backoff_s": (0.01, 0.05), "restore_grace_s": 0.0, **options}
        triggers = ObjectTriggers(hub, invoker, **settings)
        opened.append(triggers)
        return triggers

    yield _open
    for triggers in opened:
        await triggers.close()


@pytest.mark.parametrize(
    ("trigger", "bucket", "key", "action", "fires"),
    [
        (PNG_IMAGES, "uploads", "images/cat.png", put, True),
        (PNG_IMAGES, "uploads", "images/deep/cat.png", put, True),
        (PNG_IMAGES, "uploads", "images/cat.jpg", put, False),
        (PNG_IMAGES, "uploads", "docs/cat.png", put, False),
        (PNG_IMAGES, "uploads", "images/cat.png", delete, False),
        (PNG_IMAGES, "other", "images/cat.png", put, False),
        (REMOVALS, "uploads", "images/cat.png", delete, True),
        (REMOVALS, "uploads", "images/cat.png", put, False),
        (ObjectTrigger("uploads"), "uploads", "any", delete, True),
        (ObjectTrigger("uploads"), "uploads", "any", put, True),
    ],
)
async def test_filters_select_changes(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers],
    trigger: ObjectTrigger, bucket: str, key: str, action: Callable[[ServiceHub, str, str], None], fires: bool,
) -> None:
    triggers = open_triggers()
    triggers.update(services({"handle": (trigger,)}))

    action(hub, bucket, key)
    await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("handle") == ([key] if fires else [])


async def test_one_invocation_per_record(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,), "audit": (ObjectTrigger("uploads"),)}))

    put(hub, "uploads", "images/my photo.png", b"12345")
    put(hub, "uploads", "images/two.png")
    await wait_until(lambda: handed_on(hub, triggers))

    assert len(invoker.accepted) == 4
    assert sorted(invoker.keys("thumbnail")) == ["images/my+photo.png", "images/two.png"]
    assert sorted(invoker.keys("audit")) == ["images/my+photo.png", "images/two.png"]
    for invocation in invoker.accepted:
        event = orjson.loads(invocation.payload)
        parsed = S3Model.model_validate(event)
        assert invocation.trigger == "objects"
        assert len(parsed.Records) == 1
        assert parsed.Records[0].s3.bucket.name == "uploads"
        assert parsed.Records[0].eventName == "ObjectCreated:Put"
        assert parsed.Records[0].awsRegion == hub.region
        assert event["Records"][0]["s3"]["configurationId"] == f"{invocation.function}-objects"
    sizes = {key: size for key, size in _sizes(invoker.accepted)}
    assert sizes["images/my+photo.png"] == 5


def _sizes(invocations: list[Invocation]) -> list[tuple[str, int]]:
    objects = [orjson.loads(invocation.payload)["Records"][0]["s3"]["object"] for invocation in invocations]
    return [(value["key"], value["size"]) for value in objects]


async def test_checkpoint_advances_only_after_accept(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    invoker.gate = asyncio.Event()
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))

    put(hub, "uploads", "images/a.png")
    await wait_until(lambda: invoker.calls == 1)
    await asyncio.sleep(0.05)  # a wrong reader would write its checkpoint in this pause

    assert triggers.checkpoint == 0
    assert stored_checkpoint(hub) == 0
    assert len(hub.store("objects").events(0)) == 1

    invoker.gate.set()
    await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/a.png"]
    assert stored_checkpoint(hub) == triggers.checkpoint > 0


async def test_handed_on_changes_trimmed(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))

    for number in range(3):
        put(hub, "uploads", f"images/{number}.png")
    put(hub, "uploads", "notes.txt")
    await wait_until(lambda: handed_on(hub, triggers))

    await wait_until(lambda: hub.store("objects").events(0) == [])
    assert len(invoker.accepted) == 3
    journal = sqlite3.connect(hub.data_dir / STATE_FILE).execute("PRAGMA journal_mode").fetchone()
    assert journal == ("wal",)


async def test_many_changes_read_in_pages(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))

    keys = [f"images/{number:03d}.png" for number in range(250)]
    for key in keys:
        hub.store("objects").put("uploads", key, b"x")
    hub.notify("objects", "uploads")
    await wait_until(lambda: handed_on(hub, triggers))

    assert sorted(invoker.keys("thumbnail")) == keys


async def test_new_trigger_ignores_earlier_changes(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    put(hub, "uploads", "images/before.png")
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))

    put(hub, "uploads", "images/after.png")
    await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/after.png"]


async def test_readded_trigger_starts_afresh(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))
    put(hub, "uploads", "images/first.png")
    await wait_until(lambda: handed_on(hub, triggers))

    triggers.update(services({"thumbnail": ()}))
    put(hub, "uploads", "images/while-removed.png")
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))
    put(hub, "uploads", "images/third.png")
    await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/first.png", "images/third.png"]


async def test_changed_filter_is_new_trigger(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))
    put(hub, "uploads", "images/a.jpg")
    triggers.update(services({"thumbnail": (ObjectTrigger("uploads", ("created",), "images/", ".jpg"),)}))
    put(hub, "uploads", "images/b.jpg")
    await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/b.jpg"]


async def test_change_wakes_idle_reader(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    # With a one-minute poll, only the hub's notification can deliver within the wait.
    triggers = open_triggers(idle_poll_s=60.0)
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))
    await asyncio.sleep(0.05)  # let the reader go idle first

    put(hub, "uploads", "images/a.png")

    await wait_until(lambda: invoker.keys("thumbnail") == ["images/a.png"])


async def test_storage_full_retried(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers],
    caplog: pytest.LogCaptureFixture,
) -> None:
    invoker.errors["thumbnail"] = [StorageFull("no space left on the device"), StorageFull("no space left")]
    triggers = open_triggers()
    triggers.update(services({"thumbnail": (PNG_IMAGES,), "audit": (ObjectTrigger("uploads"),)}))

    with caplog.at_level(logging.WARNING, logger="squall.events.object_trigger"):
        put(hub, "uploads", "images/a.png")
        await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/a.png"]
    assert invoker.keys("audit") == ["images/a.png"]  # accepted once, not again at each retry
    retries = [record for record in caplog.records if "StorageFull" in record.getMessage()]
    assert len(retries) == 2


async def test_failed_accept_retried(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers]
) -> None:
    invoker.errors["thumbnail"] = [RuntimeError("broken"), RuntimeError("broken"), RuntimeError("broken")]
    triggers = open_triggers(backoff_s=(0.2, 0.2))
    triggers.update(services({"thumbnail": (PNG_IMAGES,)}))

    put(hub, "uploads", "images/a.png")
    await wait_until(lambda: invoker.calls >= 1)

    assert triggers.checkpoint == 0
    await wait_until(lambda: handed_on(hub, triggers))
    assert invoker.keys("thumbnail") == ["images/a.png"]


async def test_missing_function_skipped(
    hub: ServiceHub, invoker: RecordingInvoker, open_triggers: Callable[..., ObjectTriggers],
    caplog: pytest.LogCaptureFixture,
) -> None:
    invoker.errors["gone"] = [FunctionNotFound("gone")]
    triggers = open_triggers()
    triggers.update(services({"gone": (PNG_IMAGES,), "thumbnail": (PNG_IMAGES,)}))

    with caplog.at_level(logging.WARNING, logger="squall.events.object_trigger"):
        put(hub, "uploads", "images/a.png")
        put(hub, "uploads", "images/b.png")
        await wait_until(lambda: handed_on(hub, triggers))

    assert invoker.keys("thumbnail") == ["images/a.png", "images/b.png"]
    assert invoker.keys("gone") == ["images/b.png"]
    assert any("gone" in record.getMessage() and "images/a.png" in record.getMessage() for record in caplog.records)


async def test_restart_resumes_after_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "services"
    deployed = services({"thumbnail": (PNG_IMAGES,)})

    # First run: the reader accepts nothing before the stop.
    first_hub = open_hub(folder)
    first_invoker = RecordingInvoker()
    first_invoker.gate = asyncio.Event()
    first = ObjectTriggers(first_hub, first_invoker)
    first.update(deployed)
    put(first_hub, "uploads", "images/a.png")
    put(first_hub, "uploads", "images/b.png")
    await wait_until(lambda: first_invoker.calls >= 1)
    await first.close()
    first_hub.close()

    # Second run: the same changes are handed on, though the trigger's second deploy is later than them.
    second_hub = open_hub(folder)
    second_invoker = RecordingInvoker()
    second = ObjectTriggers(second_hub, second_invoker)
    try:
        second.update(deployed)
        await wait_until(lambda: handed_on(second_hub, second))
        put(second_hub, "uploads", "images/c.png")
        await wait_until(lambda: handed_on(second_hub, second))
    finally:
        await second.close()
        second_hub.close()

    assert first_invoker.accepted == []
    assert sorted(second_invoker.keys("thumbnail")) == ["images/a.png", "images/b.png", "images/c.png"]


async def test_restart_waits_for_restored_service(tmp_path: Path) -> None:
    folder = tmp_path / "services"
    first_service = services({"audit": (REMOVALS,)}, name="first")
    restored_service = services({"thumbnail": (PNG_IMAGES,)}, name="restored")

    first_hub = open_hub(folder)
    gated = RecordingInvoker()
    gated.gate = asyncio.Event()
    first = ObjectTriggers(first_hub, gated)
    first.update({**first_service, **restored_service})
    put(first_hub, "uploads", "images/a.png")
    await wait_until(lambda: gated.calls >= 1)
    await first.close()
    first_hub.close()

    # The server deploys its folder first and restores the other services after it.
    second_hub = open_hub(folder)
    second_invoker = RecordingInvoker()
    second = ObjectTriggers(second_hub, second_invoker, restore_grace_s=WAIT_S)
    try:
        second.update(first_service)
        await asyncio.sleep(0.1)  # a reader that skipped the change would pass it in this pause
        assert second.checkpoint == 0
        second.update({**first_service, **restored_service})
        await wait_until(lambda: handed_on(second_hub, second))
    finally:
        await second.close()
        second_hub.close()

    assert second_invoker.keys("thumbnail") == ["images/a.png"]


async def test_trigger_gone_after_restart_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "services"
    first_hub = open_hub(folder)
    gated = RecordingInvoker()
    gated.gate = asyncio.Event()
    first = ObjectTriggers(first_hub, gated)
    first.update(services({"thumbnail": (PNG_IMAGES,), "audit": (ObjectTrigger("uploads"),)}))
    put(first_hub, "uploads", "images/a.png")
    await wait_until(lambda: gated.calls >= 1)
    await first.close()
    first_hub.close()

    second_hub = open_hub(folder)
    second_invoker = RecordingInvoker()
    second = ObjectTriggers(second_hub, second_invoker, restore_grace_s=0.2)
    try:
        second.update(services({"audit": (ObjectTrigger("uploads"),)}))
        await wait_until(lambda: handed_on(second_hub, second))
    finally:
        await second.close()
        second_hub.close()

    assert second_invoker.keys("audit") == ["images/a.png"]
    assert second_invoker.keys("thumbnail") == []
    state = sqlite3.connect(folder / STATE_FILE)
    identities = [row[0] for row in state.execute("SELECT identity FROM triggers")]
    state.close()
    assert len(identities) == 1
    assert '"audit"' in identities[0]


async def test_no_trigger_leaves_store_closed(tmp_path: Path, invoker: RecordingInvoker) -> None:
    bare_hub = ServiceHub(tmp_path / "bare")
    triggers = ObjectTriggers(bare_hub, invoker)
    try:
        triggers.update(services({"plain": ()}))
        await asyncio.sleep(0.05)
        assert not (tmp_path / "bare" / "objects").exists()
    finally:
        await triggers.close()
        bare_hub.close()
