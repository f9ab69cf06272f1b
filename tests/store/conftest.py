"""Fixtures shared by the store tests.

The conformance tests take the `backend` fixture, so that every Store
implementation in `store_backends.BACKENDS` runs the same tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_backends import BACKENDS, Backend

from squall.store import Store


@pytest.fixture(params=BACKENDS, ids=[backend.name for backend in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    opened = backend.open_store(tmp_path, 0.01)
    opened.start()
    yield opened
    opened.close()
