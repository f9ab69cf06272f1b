"""Fixtures for the stream service tests: a store behind the `StreamStore` interface and a clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.services.streams import SqliteStreams, StreamStore

START_TIME_S = 1_700_000_000.0


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, now: float = START_TIME_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# A later backend adds its name here and a branch in `streams`.
@pytest.fixture(params=["sqlite"])
def streams(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StreamStore]:
    store = SqliteStreams(tmp_path / "streams.db", clock=clock)
    yield store
    store.close()
