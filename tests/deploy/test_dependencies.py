"""Installing requirements into shared environments, offline from a wheel the tests build."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from squall.deploy import dependencies
from squall.deploy.dependencies import (
    DEFAULT_INSTALL_TIMEOUT_S,
    Installer,
    ensure_environment,
    find_installer,
    install_service_requirements,
    install_timeout_from_environment,
)
from squall.deploy.requirements import (
    environment_digest,
    environment_for,
    find_requirements,
    normalise_requirements,
    site_packages_for,
)
from squall.errors import DeployError
from squall.manifest.spec import FunctionSpec, ServiceSpec

FIXTURES = Path(__file__).resolve().parent / "dependency_apps"
PACKAGE_NAME = "squall-fixture-greeting"
PACKAGE_VERSION = "1.0"
GREETING = "hello from an installed package"
GOOD_REQUIREMENTS = f"--no-index\n--find-links wheels\n{PACKAGE_NAME}=={PACKAGE_VERSION}\n"
MISSING_REQUIREMENTS = "--no-index\nsquall-no-such-package==1.0\n"


def build_wheel(destination: Path, source: Path = FIXTURES / "greeting_package") -> Path:
    """Zip the fixture package (or a copy of it at `source`) into a pure-Python wheel laid out as PEP 427 describes.

    Writing the zip directly needs no build backend and no index. Returns the wheel's path.
    """
    distribution = PACKAGE_NAME.replace("-", "_")
    dist_info = f"{distribution}-{PACKAGE_VERSION}.dist-info"
    entries: dict[str, bytes] = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted(source.rglob("*.py"))
    }
    entries[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {PACKAGE_NAME}\nVersion: {PACKAGE_VERSION}\n".encode()
    )
    entries[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: squall-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, content in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    entries[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    destination.mkdir(parents=True, exist_ok=True)
    wheel = destination / f"{distribution}-{PACKAGE_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return wheel


def make_code_copy(data: Path, files: dict[str, str], name: str = "copy") -> Path:
    """Write `files` as a code copy at DATA/code/NAME, where deploys put them, with the wheel in `wheels/`."""
    root = data / "code" / name
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    build_wheel(root / "wheels")
    return root


def make_service(root: Path, handlers: dict[str, str]) -> ServiceSpec:
    functions = {name: FunctionSpec(name=name, handler=handler) for name, handler in handlers.items()}
    return ServiceSpec(service="greetings", root=root, manifest_path=Path("/src/greetings/squall.yml"),
                       functions=functions)


def import_greeting(site_packages: Path) -> subprocess.CompletedProcess[str]:
    """Import the installed package in a fresh interpreter whose path has only `site_packages` beyond the stdlib."""
    code = "import squall_fixture_greeting as g; print(g.GREETING); print(g.__file__)"
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(site_packages)},
    )


def fake_installer(script: str) -> object:
    """Return a find_installer replacement that runs `script` with the target folder as its argument."""

    def find(target: Path, requirements: Path, python: str | None = None, *, require_hashes: bool = False) -> Installer:
        return Installer("fake", (sys.executable, "-c", script, str(target)))

    return find


# Requirements files and digests


@pytest.mark.parametrize(
    "variant",
    [
        "six==1.17.0\nattrs>=23\n",
        "attrs>=23\nsix==1.17.0\n",
        "# pinned\n\nsix==1.17.0   # for py2 shims\n   attrs>=23\n\n",
        "six==1.17.0\nattrs>=23\nsix==1.17.0\n",
        "six\\\n==1.17.0\nattrs>=23\n",
    ],
)
def test_equivalent_requirements_share_digest(variant: str) -> None:
    reference = environment_digest(normalise_requirements("six==1.17.0\nattrs>=23\n"))

    assert environment_digest(normalise_requirements(variant)) == reference


def test_fragment_hash_sign_not_a_comment() -> None:
    text = "pkg @ https://example.invalid/pkg.zip#sha256=abc\n"

    assert "#sha256=abc" in normalise_requirements(text)


def test_digest_changes_with_requirements_and_interpreter() -> None:
    normalised = normalise_requirements("six==1.17.0\n")

    assert environment_digest(normalised, "cpython-311-x86_64") != environment_digest(
        normalise_requirements("six==1.16.0\n"), "cpython-311-x86_64"
    )
    assert environment_digest(normalised, "cpython-311-x86_64") != environment_digest(normalised, "cpython-312-x86_64")


@pytest.mark.parametrize(
    ("files", "handler", "expected"),
    [
        (["requirements.txt"], "app.handler", "requirements.txt"),
        (["requirements.txt"], "src/app.handler", "requirements.txt"),
        (["requirements.txt", "src/requirements.txt"], "src/app.handler", "src/requirements.txt"),
        (["requirements.txt", "src/requirements.txt"], "src.app.handler", "src/requirements.txt"),
        (["requirements.txt", "src/requirements.txt"], "app.handler", "requirements.txt"),
        (["src/requirements.txt"], "src/handlers/users.get", "src/requirements.txt"),
        (["src/requirements.txt"], "other/app.handler", None),
        ([], "app.handler", None),
    ],
)
def test_requirements_file_for_handler(tmp_path: Path, files: list[str], handler: str, expected: str | None) -> None:
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("six\n")

    found = find_requirements(tmp_path, handler)

    assert found == (tmp_path / expected if expected else None)


# Installing


# The project's test extra installs uv into the virtualenv, beside the interpreter.
UV = Path(sys.executable).parent / "uv"


@pytest.fixture(params=["pip", "uv"])
def installer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with each installer a deploy may pick, which is uv when it is on PATH and pip otherwise."""
    if request.param == "uv":
        if not UV.is_file():
            pytest.skip(f"uv is not installed at {UV}")
        monkeypatch.setenv("PATH", f"{UV.parent}:{os.environ.get('PATH', '')}")
    else:
        monkeypatch.setattr(dependencies.shutil, "which", lambda name, path=None: None)
    return request.param


async def test_install_from_local_wheel(tmp_path: Path, caplog: pytest.LogCaptureFixture, installer: str) -> None:
    root = make_code_copy(tmp_path, {"requirements.txt": GOOD_REQUIREMENTS})
    service = make_service(root, {"greet": "app.greet"})
    caplog.set_level(logging.INFO, logger="squall.deploy.dependencies")

    environments = await install_service_requirements(service)

    environment = environments["greet"]
    assert environment.path.parent == tmp_path / "envs"
    assert environment.complete
    imported = import_greeting(environment.site_packages)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0] == GREETING
    assert imported.stdout.splitlines()[1].startswith(str(environment.site_packages))
    assert any("squall_fixture_greeting" in r.getMessage() or PACKAGE_NAME in r.getMessage() for r in caplog.records)
    assert site_packages_for(root, "app.greet") == (str(environment.site_packages),)


async def test_same_requirements_share_environment(tmp_path: Path) -> None:
    first = make_code_copy(tmp_path, {"requirements.txt": GOOD_REQUIREMENTS}, name="first")
    # The same requirements, written differently, in a later copy of the code.
    second = make_code_copy(
        tmp_path, {"requirements.txt": "# reordered\n" + "\n".join(reversed(GOOD_REQUIREMENTS.splitlines())) + "\n"},
        name="second",
    )
    installed = await install_service_requirements(make_service(first, {"greet": "app.greet"}))

    environment = environment_for(second, second / "requirements.txt")
    ran_again = await ensure_environment(environment, second / "requirements.txt")

    assert ran_again is False
    assert environment == installed["greet"]
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".")] == [environment.digest]


async def test_handler_folder_requirements_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each environment records which requirements file built it.
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(
        "import pathlib, sys; pathlib.Path(sys.argv[1], 'built.txt').write_text('yes')"
    ))
    root = make_code_copy(tmp_path, {"requirements.txt": "six\n", "src/requirements.txt": "attrs\n"})
    service = make_service(root, {"top": "app.top", "other": "tools.other", "nested": "src/app.nested"})

    environments = await install_service_requirements(service)

    assert environments["top"] == environments["other"]
    assert environments["nested"] != environments["top"]
    assert json.loads(environments["nested"].marker.read_text())["requirements"] == "attrs\n"
    assert json.loads(environments["top"].marker.read_text())["requirements"] == "six\n"


async def test_no_requirements_no_environment(tmp_path: Path) -> None:
    root = make_code_copy(tmp_path, {"app.py": "def greet(event, context):\n    return 1\n"})

    environments = await install_service_requirements(make_service(root, {"greet": "app.greet"}))

    assert environments == {}
    assert not (tmp_path / "envs").exists()
    assert site_packages_for(root, "app.greet") == ()


async def test_failed_install_reports_installer_error(tmp_path: Path, installer: str) -> None:
    root = make_code_copy(tmp_path, {"requirements.txt": MISSING_REQUIREMENTS})
    service = make_service(root, {"greet": "app.greet"})

    with pytest.raises(DeployError) as raised:
        await install_service_requirements(service)

    message = str(raised.value)
    assert message.startswith(
        f"/src/greetings/requirements.txt: installing the requirements failed ({installer} exited with code 1)"
    )
    # Each installer's own error output names the package it could not find.
    assert "squall-no-such-package" in message
    if installer == "pip":
        assert "No matching distribution found for squall-no-such-package" in message
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.endswith(".lock")] == []
    assert site_packages_for(root, "app.greet") == ()


async def test_install_timeout_stops_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(
        "import time; print('Collecting slow-package', flush=True); time.sleep(60)"
    ))
    root = make_code_copy(tmp_path, {"requirements.txt": "slow-package\n"})
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(DeployError) as raised:
        await install_service_requirements(make_service(root, {"greet": "app.greet"}), timeout_s=0.5)

    assert loop.time() - started < 10
    assert "took longer than the limit of 0.5 s" in str(raised.value)
    assert "SQUALL_INSTALL_TIMEOUT_S" in str(raised.value)
    assert "Collecting slow-package" in str(raised.value)
    assert [p for p in (tmp_path / "envs").iterdir() if p.is_dir()] == []


async def test_concurrent_deploys_install_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = tmp_path / "runs.txt"
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(
        "import pathlib, sys, time\n"
        f"with open({str(counter)!r}, 'a') as runs: runs.write('run\\n')\n"
        "time.sleep(0.5)\n"
        "pathlib.Path(sys.argv[1], 'module.py').write_text('X = 1')\n"
    ))
    root = make_code_copy(tmp_path, {"requirements.txt": "six\n"})
    environment = environment_for(root, root / "requirements.txt")

    results = await asyncio.gather(*(ensure_environment(environment, root / "requirements.txt") for _ in range(3)))

    assert sorted(results) == [False, False, True]
    assert counter.read_text().splitlines() == ["run"]
    assert (environment.site_packages / "module.py").read_text() == "X = 1"


async def test_unfinished_environment_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(
        "import pathlib, sys; pathlib.Path(sys.argv[1], 'fresh.py').write_text('')"
    ))
    root = make_code_copy(tmp_path, {"requirements.txt": "six\n"})
    environment = environment_for(root, root / "requirements.txt")
    (environment.site_packages / "half_written").mkdir(parents=True)

    assert site_packages_for(root, "app.greet") == ()
    await ensure_environment(environment, root / "requirements.txt")

    assert sorted(p.name for p in environment.site_packages.iterdir()) == ["fresh.py"]
    assert site_packages_for(root, "app.greet") == (str(environment.site_packages),)


async def test_options_only_file_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "find_installer", fake_installer("raise SystemExit(3)"))
    root = make_code_copy(tmp_path, {"requirements.txt": "# nothing yet\n--no-index\n"})

    environments = await install_service_requirements(make_service(root, {"greet": "app.greet"}))

    assert environments["greet"].complete
    assert list(environments["greet"].site_packages.iterdir()) == []


# Settings


@pytest.mark.parametrize(("uv", "program"), [("/opt/bin/uv", "uv"), (None, "pip")])
def test_installer_choice(monkeypatch: pytest.MonkeyPatch, uv: str | None, program: str) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: uv if name == "uv" else None)

    installer = find_installer(Path("/envs/x"), Path("/code/requirements.txt"), python="/usr/bin/python3.11")

    assert installer.name == program
    command = list(installer.command)
    assert command[command.index("--target") + 1] == "/envs/x"
    assert command[command.index("-r") + 1] == "/code/requirements.txt"
    if program == "uv":
        assert command[:3] == ["/opt/bin/uv", "pip", "install"]
        assert command[command.index("--python") + 1] == "/usr/bin/python3.11"
    else:
        assert command[:4] == ["/usr/bin/python3.11", "-m", "pip", "install"]


def test_uv_beside_interpreter_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server started as .venv/bin/squall, without .venv/bin on PATH.
    bin_folder = tmp_path / "venv" / "bin"
    bin_folder.mkdir(parents=True)
    (bin_folder / "uv").write_text("#!/bin/sh\n")
    (bin_folder / "uv").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_folder / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    installer = find_installer(Path("/envs/x"), Path("/code/requirements.txt"))

    assert installer.name == "uv"
    assert installer.command[0] == str(bin_folder / "uv")


def test_uv_checks_every_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: "/opt/bin/uv" if name == "uv" else None)

    hashed = find_installer(Path("/envs/x"), Path("/code/requirements.txt"), require_hashes=True)
    plain = find_installer(Path("/envs/x"), Path("/code/requirements.txt"))

    assert "--require-hashes" in hashed.command
    assert "--require-hashes" not in plain.command


async def test_failed_build_named_above_long_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = (
        "import sys; print('  × Failed to build `pyyaml==5.4.1`');"
        " [print(f'traceback line {n}') for n in range(40)]; sys.exit(1)"
    )
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(script))
    root = make_code_copy(tmp_path, {"requirements.txt": "pyyaml==5.4.1\n"})

    with pytest.raises(DeployError) as raised:
        await install_service_requirements(make_service(root, {"greet": "app.greet"}))

    message = str(raised.value)
    assert "Failed to build `pyyaml==5.4.1`" in message
    assert "traceback line 39" in message
    assert "traceback line 10" not in message


@pytest.mark.parametrize(("value", "expected"), [(None, DEFAULT_INSTALL_TIMEOUT_S), ("", DEFAULT_INSTALL_TIMEOUT_S),
                                                 ("30", 30.0), ("2.5", 2.5)])
def test_install_timeout_setting(value: str | None, expected: float) -> None:
    environ = {} if value is None else {"SQUALL_INSTALL_TIMEOUT_S": value}

    assert install_timeout_from_environment(environ) == expected


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan"])
def test_invalid_install_timeout_rejected(value: str) -> None:
    with pytest.raises(DeployError) as raised:
        install_timeout_from_environment({"SQUALL_INSTALL_TIMEOUT_S": value})

    assert repr(value) in str(raised.value)
    assert "positive number of seconds" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--no-index\n--find-links wheels\n", False),
        ("# nothing\n\n", False),
        ("--no-index\nsix\n", True),
        ("-r base.txt\n", True),
        ("--requirement=base.txt\n", True),
        ("-e ./local_package\n", True),
    ],
)
def test_options_versus_requirements(text: str, expected: bool) -> None:
    assert dependencies._has_requirements(text) is expected
