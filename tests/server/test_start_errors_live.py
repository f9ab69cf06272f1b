"""`squall up` start-up errors: one line that names the bad value and what would be valid, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from live_server import copy_app

DATA_FIX = "choose a folder you can write with --data or SQUALL_DATA, or make this one writable"


def start_up(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `squall up FOLDER --port 0 EXTRA...` and wait for it to give up."""
    command = [sys.executable, "-m", "squall", "up", str(folder), "--port", "0", "--no-watch", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def squall_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Return the lines of stderr that the server printed as errors, without its log lines."""
    return [line for line in result.stderr.splitlines() if line.startswith("squall: ")]


def test_data_under_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    data = tmp_path / "afile" / "sub"

    result = start_up(copy_app("cli", tmp_path), "--data", str(data))

    assert result.returncode == 2
    assert squall_lines(result) == [f"squall: cannot create the data folder {data}: Not a directory; {DATA_FIX}"]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder of mode 0o500")
def test_data_read_only(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir(mode=0o500)

    result = start_up(copy_app("cli", tmp_path), "--data", str(data))

    assert result.returncode == 2
    assert squall_lines(result) == [f"squall: cannot write in the data folder {data}: Permission denied; {DATA_FIX}"]
    assert "Traceback" not in result.stderr


def test_data_lock_not_writable(tmp_path: Path) -> None:
    # A folder where the lock file belongs makes opening the lock fail for root too.
    data = tmp_path / "data"
    (data / "server.lock").mkdir(parents=True)

    result = start_up(copy_app("cli", tmp_path), "--data", str(data))

    assert result.returncode == 2
    assert squall_lines(result) == [f"squall: cannot write in the data folder {data}: Is a directory; {DATA_FIX}"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("999.1.1.1", "not a valid IPv4 address"),
        ("1:2:3", "not a valid IPv6 address"),
        ("localhost:80", "a host without a port is expected; give the port with --port 80"),
    ],
)
def test_host_not_an_address(tmp_path: Path, host: str, reason: str) -> None:
    # Written like an IP address, so it is rejected without a DNS lookup.
    result = start_up(copy_app("cli", tmp_path), "--host", host, "--data", str(tmp_path / "data"))

    assert result.returncode == 2
    assert squall_lines(result) == [
        f"squall: invalid --host {host!r}: {reason}; use an IP address of this machine, such as 127.0.0.1, "
        "0.0.0.0 (every IPv4 interface) or ::1, or a host name that resolves to one"
    ]
    assert not (tmp_path / "data").exists()


def test_host_not_on_this_machine(tmp_path: Path) -> None:
    # 192.0.2.1 is reserved for documentation (RFC 5737), so no interface here should have it.
    # Binding to it sends nothing.
    result = start_up(copy_app("cli", tmp_path), "--host", "192.0.2.1", "--data", str(tmp_path / "data"))

    assert result.returncode == 2
    assert len(squall_lines(result)) == 1
    assert "squall: cannot listen on 192.0.2.1:0: Cannot assign requested address" in result.stderr
    assert "--host must be an address of this machine, such as 127.0.0.1" in result.stderr
    assert "stop what uses that port" not in result.stderr


BROKEN_MANIFEST = "service: cli-checks\nfunctions: [not, a, mapping]\n"


def test_broken_manifest_names_previous_deploy(serve: Any, tmp_path: Path) -> None:
    folder = copy_app("cli", tmp_path)
    first = serve(folder, "--no-watch")
    assert first.stop() == 0
    (folder / "squall.yml").write_text(BROKEN_MANIFEST)

    result = start_up(folder, "--data", str(first.data))

    assert result.returncode == 2
    lines = squall_lines(result)
    assert len(lines) == 2
    assert lines[0].startswith(f"squall: {folder / 'squall.yml'}")
    assert lines[1] == (
        "squall: the data folder contains the previous deploy of cli-checks: "
        # start_up asked for --port 0, which the command keeps.
        f"`squall up --no-deploy --data {first.data} --port 0` serves it meanwhile"
    )


def test_broken_manifest_without_previous_deploy(tmp_path: Path) -> None:
    folder = copy_app("cli", tmp_path)
    (folder / "squall.yml").write_text(BROKEN_MANIFEST)

    result = start_up(folder, "--data", str(tmp_path / "data"))

    assert result.returncode == 2
    assert len(squall_lines(result)) == 1
    assert "--no-deploy" not in result.stderr
