"""Fixtures shared by the dispatcher tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder that instances see too, for files a test and a handler share: an instance run as root has its own /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="squall-test-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
