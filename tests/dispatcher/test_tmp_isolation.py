"""The server logs at start whether instances get a /tmp of their own."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from squall.dispatcher.limits import log_tmp_isolation

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a /tmp per instance needs root")


def logged(caplog: pytest.LogCaptureFixture, data_dir: Path) -> list[str]:
    with caplog.at_level(logging.INFO, logger="squall.dispatcher.limits"):
        log_tmp_isolation(data_dir)
    return [record.getMessage() for record in caplog.records]


def test_data_folder_under_tmp_shares_it(caplog: pytest.LogCaptureFixture) -> None:
    assert logged(caplog, Path("/tmp/squall-data")) == [
        "instances share the host's /tmp: the data folder /tmp/squall-data is under /tmp"
    ]


def test_data_folder_elsewhere_gets_own_tmp(caplog: pytest.LogCaptureFixture, outside_tmp: Path) -> None:
    assert logged(caplog, outside_tmp / "data") == ["each instance gets a /tmp of its own"]
