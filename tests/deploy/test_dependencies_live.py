"""A real `squall up` serving a function that imports a package from its requirements.txt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from test_dependencies import FIXTURES, GREETING, MISSING_REQUIREMENTS, build_wheel

REQUEST_TIMEOUT_S = 20


def copy_service(destination: Path) -> Path:
    folder = destination / "service"
    shutil.copytree(FIXTURES / "service", folder)
    build_wheel(folder / "wheels")
    return folder


def test_handler_imports_installed_package(serve: Any, tmp_path: Path) -> None:
    folder = copy_service(tmp_path)

    server = serve(folder, "--no-watch")
    answer = httpx.get(server.endpoint + "/greet", timeout=REQUEST_TIMEOUT_S)

    assert answer.status_code == 200, answer.text
    assert answer.json()["greeting"] == GREETING
    assert answer.json()["module_file"].startswith(str(server.data / "envs"))
    # pip's "Successfully installed squall-fixture-greeting-1.0", or uv's "+ squall-fixture-greeting==1.0".
    assert any("squall-fixture-greeting-1.0" in line or "squall-fixture-greeting==1.0" in line for line in server.output)


def test_failed_install_keeps_previous_version(serve: Any, tmp_path: Path) -> None:
    folder = copy_service(tmp_path)
    server = serve(folder, "--no-watch")
    assert httpx.get(server.endpoint + "/greet", timeout=REQUEST_TIMEOUT_S).json()["greeting"] == GREETING

    (folder / "app.py").write_text("def greet(event, context):\n    return {'greeting': 'second version'}\n")
    (folder / "requirements.txt").write_text(MISSING_REQUIREMENTS)
    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert deployed.returncode != 0
    # pip and uv word it differently, and both name the package.
    assert "squall-no-such-package" in deployed.stderr
    assert str(folder / "requirements.txt") in deployed.stderr
    answer = httpx.get(server.endpoint + "/greet", timeout=REQUEST_TIMEOUT_S)
    assert answer.json()["greeting"] == GREETING


def test_rebuilt_local_wheel_installed_again(serve: Any, tmp_path: Path) -> None:
    folder = copy_service(tmp_path)
    server = serve(folder, "--no-watch")
    assert httpx.get(server.endpoint + "/greet", timeout=REQUEST_TIMEOUT_S).json()["greeting"] == GREETING

    # The same version of the package, rebuilt with other content, as a local build would.
    source = tmp_path / "changed_package"
    shutil.copytree(FIXTURES / "greeting_package", source)
    module = source / "squall_fixture_greeting" / "__init__.py"
    module.write_text(module.read_text().replace(GREETING, "hello from the rebuilt package"))
    build_wheel(folder / "wheels", source)
    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert deployed.returncode == 0, deployed.stderr
    answer = httpx.get(server.endpoint + "/greet", timeout=REQUEST_TIMEOUT_S)
    assert answer.json()["greeting"] == "hello from the rebuilt package"
