"""serverless.yml: a schedule event's `name` names its EventBridge rule, which the Scheduled Event carries."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest

from squall.dispatcher.dispatcher import Invocation
from squall.errors import ManifestError
from squall.events.scheduler import Scheduler
from squall.manifest import load_service
from squall.manifest.spec import ScheduleTrigger
from tests.manifest.conftest import WriteService


def _service(events: str) -> str:
    return (
        "service: reports\nprovider:\n  name: aws\n  runtime: python3.12\n"
        "functions:\n  nightly:\n    handler: app.greet\n    events:\n" + textwrap.indent(textwrap.dedent(events), "      ")
    )


def _schedules(write_service: WriteService, events: str) -> list[ScheduleTrigger]:
    write_service(_service(events), name="serverless.yml")
    triggers = load_service(Path(".")).functions["nightly"].triggers
    return [trigger for trigger in triggers if isinstance(trigger, ScheduleTrigger)]


@pytest.mark.parametrize(
    ("events", "rule_names"),
    [
        pytest.param("- schedule: {rate: rate(1 day), name: nightly-report}\n", ["nightly-report"], id="rate text"),
        pytest.param("- schedule: {rate: [cron(0 2 * * ? *)], name: reports.v2_nightly}\n", ["reports.v2_nightly"],
                     id="list of one"),
        pytest.param("- schedule: {rate: rate(1 day)}\n", [None], id="no name"),
        pytest.param("- schedule: rate(1 day)\n", [None], id="short form"),
    ],
)
def test_schedule_name_names_rule(write_service: WriteService, events: str, rule_names: list[str | None]) -> None:
    schedules = _schedules(write_service, events)

    assert [schedule.rule_name for schedule in schedules] == rule_names


def test_schedule_name_not_warned(write_service: WriteService) -> None:
    write_service(_service("- schedule: {rate: rate(1 day), name: nightly-report}\n"), name="serverless.yml")

    assert load_service(Path(".")).warnings == ()


@pytest.mark.parametrize(
    ("events", "fragment"),
    [
        pytest.param(
            "- schedule: {rate: [rate(1 day), rate(2 days)], name: nightly-report}\n",
            "a name names one rule, but rate lists 2 schedule expressions",
            id="several expressions",
        ),
        pytest.param(
            "- schedule: {rate: rate(1 day), name: nightly report}\n",
            "expected a rule name of 1 to 64 letters, digits, '.', '-' or '_', got \"nightly report\"",
            id="space",
        ),
        pytest.param(
            f"- schedule: {{rate: rate(1 day), name: {'r' * 65}}}\n",
            "expected a rule name of 1 to 64",
            id="too long",
        ),
    ],
)
def test_invalid_schedule_name_rejected(write_service: WriteService, events: str, fragment: str) -> None:
    write_service(_service(events), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.nightly.events[0].schedule.name"
    assert fragment in raised.value.detail


async def first_tick_event(write_service: WriteService, tmp_path: Path, events: str) -> dict:
    """Deploy a serverless.yml with these schedule events and return the event of the first tick, a minute on."""
    write_service(_service(events), name="serverless.yml")
    service = load_service(Path("."))
    accepted: list[Invocation] = []

    async def accept(invocation: Invocation) -> None:
        accepted.append(invocation)

    now = 1_704_103_200.0  # 2024-01-01 10:00 UTC
    scheduler = Scheduler(tmp_path / "schedules.db", accept, lambda: now)
    try:
        scheduler.update({service.service: service})
        now += 60
        await scheduler.fire_due()
    finally:
        await scheduler.close()

    (event,) = [orjson.loads(invocation.payload) for invocation in accepted]
    return event


async def test_scheduled_event_carries_rule_name(write_service: WriteService, tmp_path: Path) -> None:
    event = await first_tick_event(write_service, tmp_path, "- schedule: {rate: rate(1 minute), name: nightly-report}\n")

    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/nightly-report"]


def test_duplicate_rule_name_rejected(write_service: WriteService) -> None:
    events = (
        "- schedule: {rate: rate(1 minute), name: my-tick-rule}\n"
        "- schedule: {rate: rate(5 minutes), name: my-tick-rule}\n"
    )
    write_service(_service(events), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.nightly.events[1].schedule.name"
    assert raised.value.detail == (
        'rule name "my-tick-rule" is already the name at functions.nightly.events[0].schedule.name; '
        "give each schedule its own name"
    )


async def test_scheduler_method_sends_scheduler_event(write_service: WriteService, tmp_path: Path) -> None:
    event = await first_tick_event(
        write_service, tmp_path, "- schedule: {rate: rate(1 minute), method: scheduler, name: nightly-report}\n"
    )

    assert event["source"] == "aws.scheduler"
    assert event["resources"] == ["arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly-report"]
    assert event["detail"] == "{}"


def test_unknown_schedule_method_rejected(write_service: WriteService) -> None:
    write_service(_service("- schedule: {rate: rate(1 day), method: cron}\n"), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.nightly.events[0].schedule.method"
    assert '"scheduler"' in raised.value.detail
