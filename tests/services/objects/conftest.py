"""Fixtures for the object store tests: each behaviour test runs against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from squall.services.objects import FileObjects, ObjectStore

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
LAMBDA_EVENTS = CONFORMANCE / "lambda-events"

# Small enough that the size-limit tests stream a few chunks past it.
TEST_MAX_OBJECT_SIZE = 64 * 1024
TEST_CHUNK_SIZE = 4096


@dataclass
class FakeClock:
    """A clock the tests move by hand, in epoch seconds."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _file_objects(root: Path, clock: FakeClock) -> FileObjects:
    return FileObjects(root, clock=clock, max_object_size=TEST_MAX_OBJECT_SIZE, chunk_size=TEST_CHUNK_SIZE)


# A later backend adds its name here and a branch in `store`.
@pytest.fixture(params=["files"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[ObjectStore]:
    opened = _file_objects(tmp_path / "objects", clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def bucket(store: ObjectStore) -> str:
    return store.create_bucket("photos").name


@pytest.fixture
def files_store(tmp_path: Path, clock: FakeClock) -> Iterator[FileObjects]:
    """The embedded backend itself, for tests of its files and crash recovery."""
    opened = _file_objects(tmp_path / "objects", clock)
    opened.create_bucket("photos")
    try:
        yield opened
    finally:
        opened.close()


def reopen(store: FileObjects, clock: FakeClock) -> FileObjects:
    """Close a store and open its folder again, as a restarted server would."""
    store.close()
    return _file_objects(store.root, clock)
