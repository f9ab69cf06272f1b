"""A deploy whose triggers name resources that do not exist lists every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import DeployError
from squall.events.resources import prepare_resources
from squall.manifest.spec import AsyncConfig, FunctionSpec, ObjectTrigger, QueueTrigger, ServiceSpec
from squall.services.hub import ServiceHub


def test_every_missing_resource_is_named(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    consume = FunctionSpec(name="consume", handler="app.consume", triggers=(QueueTrigger(queue="nosuchqueue"),))
    resize = FunctionSpec(name="resize", handler="app.resize", triggers=(ObjectTrigger(bucket="nosuchbucket"),))
    service = ServiceSpec(
        service="s", root=tmp_path, manifest_path=tmp_path / "squall.yml", functions={"consume": consume, "resize": resize}
    )

    with pytest.raises(DeployError) as raised:
        prepare_resources(hub, service)

    message = str(raised.value)
    assert message.startswith("squall.yml: functions.consume.events: the event of queue 'nosuchqueue': ")
    assert "\n  also functions.resize.events: the event of bucket 'nosuchbucket': " in message
    assert "events[" not in message


def test_missing_dead_letter_queue_named(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path / "services")
    work = FunctionSpec(name="Work", handler="app.work", async_config=AsyncConfig(dead_letter_queue="nosuchqueue"))
    service = ServiceSpec(service="s", root=tmp_path, manifest_path=tmp_path / "template.yaml", functions={"Work": work})

    with pytest.raises(DeployError) as raised:
        prepare_resources(hub, service)

    assert str(raised.value).startswith("template.yaml: Resources.Work.Properties.DeadLetterQueue.TargetArn: ")
    assert "nosuchqueue" in str(raised.value)
