"""Defaults a user relies on without asking: loopback needs no token, SIGTERM stops the server cleanly.

The token path of a non-loopback address is not tested here: binding any
address but loopback would expose the test server beyond this machine.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_server import FUNCTIONS_PATH, HEALTH_PATH, copy_app

_CGROUP_LINE = re.compile(r"memory limits use cgroup v\d under (\S+)")


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def memory_cgroup_of(server: Any) -> Path | None:
    """Return the memory cgroup the server logged it created for its instances, if any."""
    for line in server.output:
        found = _CGROUP_LINE.search(line)
        if found:
            return Path(found.group(1))
    return None


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine has no IPv6 loopback address")
def test_ipv6_loopback_needs_no_token(serve: Any, tmp_path: Path) -> None:
    server = serve(copy_app("cli", tmp_path), "--host", "::1")

    health = httpx.get(server.endpoint + HEALTH_PATH, timeout=10)
    listing = httpx.get(server.endpoint + FUNCTIONS_PATH, timeout=10)
    invoked = httpx.post(server.endpoint + "/2015-03-31/functions/greet/invocations", content=b'{"name": "v6"}', timeout=20)

    assert server.endpoint.startswith("http://[::1]:")
    assert health.status_code == 200
    assert listing.status_code == 200
    assert invoked.status_code == 200
    assert invoked.json() == {"greeting": "hello v6"}
    assert not (server.data / "token").exists()
    assert not any("token" in line for line in server.output)


def test_sigterm_exits_cleanly(serve: Any, tmp_path: Path) -> None:
    server = serve(copy_app("cli", tmp_path))
    assert httpx.get(server.endpoint + "/greet/term", timeout=20).status_code == 200

    assert server.stop() == 0


def test_sigterm_removes_memory_cgroups(serve: Any, tmp_path: Path) -> None:
    server = serve(copy_app("cli", tmp_path))
    assert httpx.get(server.endpoint + "/greet/term", timeout=20).status_code == 200
    cgroup = memory_cgroup_of(server)
    if cgroup is None:
        pytest.skip("this machine gives the server no memory cgroup")
    assert cgroup.is_dir()

    server.stop()

    assert not cgroup.exists()


def start_second(folder: Path, data: Path, port: int) -> subprocess.CompletedProcess[str]:
    """Run `squall up` where the first server already is, and wait for it to give up."""
    command = [sys.executable, "-m", "squall", "up", str(folder), "--port", str(port), "--data", str(data)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_second_server_on_same_data_folder_is_refused(serve: Any, tmp_path: Path) -> None:
    folder = copy_app("cli", tmp_path)
    first = serve(folder)

    second = start_second(folder, first.data, 0)

    assert second.returncode == 2
    pid = first.process.pid
    assert f"the data folder {first.data} is in use by another Squall server (pid {pid})" in second.stderr
    assert httpx.get(first.endpoint + HEALTH_PATH, timeout=10).status_code == 200


def test_port_in_use_is_named(serve: Any, tmp_path: Path) -> None:
    folder = copy_app("cli", tmp_path)
    first = serve(folder)
    port = int(first.endpoint.rsplit(":", 1)[1])

    second = start_second(folder, tmp_path / "other-data", port)

    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert "--port 0 takes a free one" in second.stderr
    assert "Traceback" not in second.stderr
    assert not (tmp_path / "other-data").exists()


def test_existing_data_folder_made_private(serve: Any, tmp_path: Path) -> None:
    data = tmp_path / "shared-data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)

    server = serve(copy_app("cli", tmp_path), data=data)

    assert data.stat().st_mode & 0o777 == 0o700
    assert any("removed the access of other accounts (mode 755, now 700)" in line for line in server.output)
