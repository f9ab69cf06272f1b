"""Fixtures for the queue service tests: a store behind the `Queues` protocol and a clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.services.queues import Queues, SqliteQueues

from .fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# A later backend adds its name here and a branch below.
@pytest.fixture(params=["sqlite"])
def queues(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Queues]:
    store = SqliteQueues(tmp_path / "queues.db", clock=clock)
    yield store
    store.close()
