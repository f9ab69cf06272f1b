"""Sampling of provisioned instance time from the dispatcher's pools."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from squall.metering.provisioned import ProvisionedSampler
from squall.metering.records import ProvisionedUsage

T0 = 1_700_000_000.0


@dataclass
class FakeSpec:
    name: str
    memory_mb: int
    provisioned: int


@dataclass
class FakePool:
    spec: FakeSpec
    retiring: bool = False
    ready: int | None = None  # initialised provisioned instances; None: all of them

    @property
    def provisioned_ready(self) -> int:
        return self.spec.provisioned if self.ready is None else self.ready


@dataclass
class FakeDispatcher:
    pools: dict[str, FakePool] = field(default_factory=dict)
    versioned: list[FakePool] = field(default_factory=list)  # pools of published versions

    def running_pools(self) -> list[FakePool]:
        return [*self.pools.values(), *self.versioned]


@dataclass
class FakeStore:
    periods: list[ProvisionedUsage] = field(default_factory=list)
    written: asyncio.Event = field(default_factory=asyncio.Event)

    def add_usage(self, periods: Sequence[ProvisionedUsage]) -> None:
        self.periods.extend(periods)
        self.written.set()

    def usage(self, since: float | None = None) -> list[ProvisionedUsage]:
        return list(self.periods)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def pools(*specs: FakeSpec) -> FakeDispatcher:
    return FakeDispatcher({spec.name: FakePool(spec) for spec in specs})


def test_sample_covers_time_since_previous() -> None:
    clock = Clock()
    dispatcher = pools(FakeSpec("api", 512, 2), FakeSpec("batch", 1024, 0))
    sampler = ProvisionedSampler(dispatcher, FakeStore(), clock=clock)

    assert sampler.sample() == []
    clock.now += 60
    periods = sampler.sample()

    assert periods == [ProvisionedUsage("api", T0, T0 + 60, 2, 512)]
    assert periods[0].gb_seconds == pytest.approx(60 * 2 * 0.5)


def test_sample_follows_configuration_changes() -> None:
    clock = Clock()
    dispatcher = pools(FakeSpec("api", 512, 2))
    sampler = ProvisionedSampler(dispatcher, FakeStore(), clock=clock)
    sampler.sample()

    clock.now += 60
    dispatcher.pools["api"] = FakePool(FakeSpec("api", 512, 5))
    first = sampler.sample()
    clock.now += 60
    dispatcher.pools["api"].retiring = True
    second = sampler.sample()

    assert [period.instances for period in first] == [5]
    assert second == []


def test_sample_bills_published_versions() -> None:
    clock = Clock()
    dispatcher = pools(FakeSpec("api", 512, 0))
    dispatcher.versioned.append(FakePool(FakeSpec("api", 512, 2)))  # An alias's version keeps two instances.
    sampler = ProvisionedSampler(dispatcher, FakeStore(), clock=clock)
    sampler.sample()

    clock.now += 60
    periods = sampler.sample()

    assert periods == [ProvisionedUsage("api", T0, T0 + 60, 2, 512)]


@pytest.mark.parametrize(("ready", "billed"), [(1, [1]), (0, [])])
def test_sample_bills_only_initialised_instances(ready: int, billed: list[int]) -> None:
    clock = Clock()
    dispatcher = FakeDispatcher({"api": FakePool(FakeSpec("api", 512, 2), ready=ready)})
    sampler = ProvisionedSampler(dispatcher, FakeStore(), clock=clock)
    sampler.sample()

    clock.now += 60

    assert [period.instances for period in sampler.sample()] == billed


async def test_run_records_and_closes_last_interval() -> None:
    clock = Clock()
    store = FakeStore()
    sampler = ProvisionedSampler(pools(FakeSpec("api", 1024, 1)), store, interval_s=0.01, clock=clock)

    task = asyncio.create_task(sampler.run())
    await asyncio.sleep(0)  # one pass of the loop: run() takes its first sample at T0
    clock.now += 30
    await asyncio.wait_for(store.written.wait(), timeout=30)
    clock.now += 5
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert store.periods[0] == ProvisionedUsage("api", T0, T0 + 30, 1, 1024)
    assert store.periods[-1].ended_at == T0 + 35
    assert sum(period.ended_at - period.started_at for period in store.periods) == pytest.approx(35)


def test_sampler_rejects_invalid_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        ProvisionedSampler(FakeDispatcher(), FakeStore(), interval_s=0)
