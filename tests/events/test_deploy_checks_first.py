"""A deploy checks every declared resource and destination before it creates anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.errors import DeployError
from squall.events.resources import create_resources, prepare_resources
from squall.manifest.spec import (
    AsyncConfig,
    BucketResource,
    Destination,
    FunctionSpec,
    QueueResource,
    Resources,
    ServiceSpec,
    TableResource,
)
from squall.services.hub import ServiceHub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ServiceHub]:
    opened = ServiceHub(tmp_path / "services")
    yield opened
    opened.close()


def service_of(tmp_path: Path, resources: Resources = Resources(), **functions: FunctionSpec) -> ServiceSpec:
    functions = functions or {"worker": FunctionSpec(name="worker", handler="app.work")}
    return ServiceSpec("shop", tmp_path, tmp_path / "squall.yml", dict(functions), resources=resources)


def test_rejected_resources_create_nothing(hub: ServiceHub, tmp_path: Path) -> None:
    resources = Resources(
        queues=(QueueResource("aq"), QueueResource("stdq", content_based_deduplication=True)),
        buckets=(BucketResource("192.168.1.1"),),
        tables=(TableResource("samekey", ("id", "S"), ("id", "S")),),
    )

    with pytest.raises(DeployError) as raised:
        prepare_resources(hub, service_of(tmp_path, resources))

    message = str(raised.value)
    assert message.startswith("squall.yml: resources: queue 'stdq': expected false, since content-based deduplication")
    assert "\n  also resources: bucket '192.168.1.1': bucket name '192.168.1.1' is invalid" in message
    assert "\n  also resources: table 'samekey': expected an attribute other than the partition key" in message
    assert hub.store("queues").list_queues() == []


def test_dead_letter_chain_created_in_order(hub: ServiceHub, tmp_path: Path) -> None:
    # Each queue is declared before its dead-letter queue, which must exist when the queue is created.
    queues = (
        QueueResource("jobs", dead_letter_queue="retries"),
        QueueResource("retries", dead_letter_queue="failed"),
        QueueResource("failed"),
    )
    service = service_of(tmp_path, Resources(queues=queues))

    create_resources(prepare_resources(hub, service), service)

    created = {queue.name: queue.settings.dead_letter for queue in hub.store("queues").list_queues()}
    assert sorted(created) == ["failed", "jobs", "retries"]
    assert created["jobs"] is not None and created["jobs"].target == "retries"
    assert created["retries"] is not None and created["retries"].target == "failed"


def test_dead_letter_cycle_rejected(hub: ServiceHub, tmp_path: Path) -> None:
    queues = (
        QueueResource("plain"),
        QueueResource("jobs", dead_letter_queue="failed"),
        QueueResource("failed", dead_letter_queue="jobs"),
    )

    with pytest.raises(DeployError) as raised:
        prepare_resources(hub, service_of(tmp_path, Resources(queues=queues)))

    assert "the dead-letter queues form a cycle (failed -> jobs -> failed)" in str(raised.value)
    assert hub.store("queues").list_queues() == []


def failing_to(name: str, aws_name: str | None = None) -> FunctionSpec:
    config = AsyncConfig(on_failure=Destination("function", name))
    return FunctionSpec(name="worker", handler="app.work", async_config=config, aws_name=aws_name)


def test_missing_function_destination_rejected(hub: ServiceHub, tmp_path: Path) -> None:
    service = service_of(tmp_path, worker=failing_to("nosuchfn"))

    with pytest.raises(DeployError) as raised:
        prepare_resources(hub, service, other_functions={"audit": None})

    assert str(raised.value) == (
        "squall.yml: functions.worker.on_failure: function 'nosuchfn' is neither a function of this service (worker) "
        "nor deployed on the server, so the records sent to it would be lost; name one that is, or deploy the "
        "function's service first"
    )


@pytest.mark.parametrize("target", ["audit", "worker"])
def test_known_function_destination_accepted(hub: ServiceHub, tmp_path: Path, target: str) -> None:
    service = service_of(tmp_path, worker=failing_to(target))

    assert prepare_resources(hub, service, other_functions={"audit": None}) == []


def test_aws_name_destination_accepted(hub: ServiceHub, tmp_path: Path) -> None:
    # A destination may name a function by its AWS name, which delivery maps to the function.
    service = service_of(tmp_path, worker=failing_to("shop-dev-audit"))

    assert prepare_resources(hub, service, other_functions={"audit": "shop-dev-audit"}) == []


def test_function_destination_unchecked_without_functions(hub: ServiceHub, tmp_path: Path) -> None:
    # Without the server's functions, a destination may name one of them.
    service = service_of(tmp_path, worker=failing_to("nosuchfn"))

    assert prepare_resources(hub, service) == []
