"""Fixtures for the table store tests: each backend behind the `TableStore` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.services.tables.model import TableStore
from squall.services.tables.sqlite import SqliteTables

# Start of the fake clock: 2023-11-14, so TTL values look like real epoch seconds.
START_TIME_S = 1_700_000_000.0


class FakeClock:
    """A clock the tests move forward by hand, in epoch seconds."""

    def __init__(self, now: float = START_TIME_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _open_sqlite(path: Path, clock: FakeClock) -> SqliteTables:
    return SqliteTables(path / "tables.sqlite3", clock=clock)


# A later backend adds its opener here; every behaviour test then runs on it too.
BACKENDS = {"sqlite": _open_sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[TableStore]:
    opened = BACKENDS[request.param](tmp_path, clock)
    yield opened
    opened.close()


@pytest.fixture
def orders(store: TableStore) -> TableStore:
    """A store with table 'orders': partition key 'customer' (S), sort key 'order' (N)."""
    store.create_table("orders", partition_key=("customer", "S"), sort_key=("order", "N"), ttl_attribute="expires")
    return store
