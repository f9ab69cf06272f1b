"""Installing a service's requirements into shared, content-addressed environments.

A deploy calls `install_service_requirements` after copying the code and
before switching to it. Each distinct requirements file becomes
`DATA/envs/<digest>/site-packages` (see `squall.deploy.requirements`), installed
with `uv pip install --target` when uv is on PATH, else `pip install --target`,
into a staging folder that is renamed into place once the installer succeeds.
An existing complete environment is reused without running anything.

A lock file per digest lets one deploy install while another deploy of the
same requirements waits for it and then reuses its result. A failed install
raises DeployError with the installer's last lines, before anything switches,
so the running version keeps serving.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from squall.deploy.progress import InstallBoard, InstallProgress
from squall.deploy.requirements import (
    SITE_PACKAGES_DIR,
    Environment,
    LocalInputs,
    environment_for,
    find_requirements,
    interpreter_tag,
    local_inputs,
    normalise_requirements,
    read_requirements,
)
from squall.errors import DeployError
from squall.manifest.spec import ServiceSpec

logger = logging.getLogger(__name__)

DEFAULT_INSTALL_TIMEOUT_S = 600.0
INSTALL_TIMEOUT_VARIABLE = "SQUALL_INSTALL_TIMEOUT_S"
# Lines of the installer's output quoted in a DeployError.
ERROR_TAIL_LINES = 15
# Error lines from earlier in the installer's output quoted too, such as uv's
# "Failed to build `pyyaml==5.4.1`" above a long build traceback.
ERROR_SUMMARY_LINES = 5
_ERROR_LINE = re.compile(r"^\s*(×|error:|ERROR:|Failed to build|failed to build)")
# How often a deploy retries a lock that another deploy of the same requirements holds.
LOCK_RETRY_INTERVAL_S = 0.2
_READ_CHUNK_BYTES = 64 * 1024
# Options of a requirements file that name packages rather than tune the installer.
_REQUIREMENT_OPTIONS = frozenset({"-r", "--requirement", "-e", "--editable"})


@dataclass(frozen=True)
class Installer:
    """The program that installs requirements: `name` is "uv" or "pip", `command` its argument list."""

    name: str
    command: tuple[str, ...]


def find_installer(
    target: Path, requirements: Path, python: str | None = None, *, require_hashes: bool = False
) -> Installer:
    """Return the command that installs `requirements` into `target` for the interpreter `python`.

    uv is preferred when it is on PATH or beside the interpreter (as in a
    virtual environment whose bin folder is not on PATH), else the
    interpreter's own pip. The tests run both (the test extra installs uv). With `require_hashes` (a
    line of the file has --hash), uv checks every requirement's hash, as pip
    does on its own once one line has one.
    """
    python = python or sys.executable
    uv = shutil.which("uv", path=os.pathsep.join((os.environ.get("PATH", os.defpath), str(Path(sys.executable).parent))))
    if uv is not None:
        hashes = ("--require-hashes",) if require_hashes else ()
        return Installer(
            "uv",
            (uv, "pip", "install", "--target", str(target), "-r", str(requirements), "--python", python, *hashes),
        )
    return Installer(
        "pip",
        (
            python, "-m", "pip", "install",
            "--target", str(target),
            "-r", str(requirements),
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        ),
    )


def install_timeout_from_environment(environ: Mapping[str, str] | None = None) -> float:
    """Read the install time limit in seconds from SQUALL_INSTALL_TIMEOUT_S, defaulting to 10 minutes.

    Raises DeployError for a value that is not a positive number.
    """
    raw = (os.environ if environ is None else environ).get(INSTALL_TIMEOUT_VARIABLE, "")
    if not raw.strip():
        return DEFAULT_INSTALL_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise DeployError(f"{INSTALL_TIMEOUT_VARIABLE}: expected a positive number of seconds, got {raw!r}")
    return value


async def install_service_requirements(
    service: ServiceSpec, timeout_s: float = DEFAULT_INSTALL_TIMEOUT_S, board: InstallBoard | None = None
) -> dict[str, Environment]:
    """Make sure every requirements file of `service` has a complete environment; return each function's.

    `service.root` must be the code copy under `DATA/code`. Functions without
    a requirements file are left out of the result. Installs report their
    progress on `board`. Raises DeployError when an install fails or takes
    longer than `timeout_s`.
    """
    check_requirement_files(service)
    environments: dict[str, Environment] = {}
    for requirements, functions in _requirement_users(service).items():
        display_path = _display_path(service, requirements)
        try:
            environment = environment_for(service.root, requirements)
        except (OSError, UnicodeDecodeError) as error:
            raise DeployError(f"{display_path}: cannot read the requirements: {error}") from error
        await ensure_environment(environment, requirements, timeout_s=timeout_s, display_path=display_path,
                                 functions=functions, board=board)
        environments.update((name, environment) for name in functions)
    return environments


async def ensure_environment(
    environment: Environment,
    requirements: Path,
    *,
    timeout_s: float = DEFAULT_INSTALL_TIMEOUT_S,
    display_path: str | None = None,
    functions: list[str] | None = None,
    board: InstallBoard | None = None,
) -> bool:
    """Install `requirements` as `environment` unless it is complete already; return whether it installed.

    `display_path` is the requirements file as the user knows it and `functions` the
    functions that use it, both for messages. Raises DeployError on failure.
    """
    display_path = display_path or str(requirements)
    if environment.complete:
        logger.info("%s: reusing environment %s", display_path, environment.digest)
        return False

    started = time.monotonic()
    environment.path.parent.mkdir(parents=True, exist_ok=True)
    lock = environment.path.parent / f".{environment.digest}.lock"
    async with _exclusive(lock, timeout_s, display_path):
        # Another deploy may have installed it while this one waited for the lock.
        if environment.complete:
            logger.info("%s: reusing environment %s, installed by a concurrent deploy", display_path,
                        environment.digest)
            return False
        _remove_leftovers(environment)
        remaining_s = timeout_s - (time.monotonic() - started)
        await _install(environment, requirements, remaining_s, timeout_s, display_path, functions or [], board)
    logger.info("%s: installed environment %s in %.1f s", display_path, environment.path, time.monotonic() - started)
    return True


async def _install(
    environment: Environment,
    requirements: Path,
    remaining_s: float,
    limit_s: float,
    display_path: str,
    functions: list[str],
    board: InstallBoard | None,
) -> None:
    """Run the installer into a staging folder, write the marker, and rename the folder into place.

    `remaining_s` is what is left of the time limit `limit_s` after waiting for the lock.
    """
    staging = environment.path.parent / f".{environment.digest}.{uuid.uuid4().hex}.staging"
    target = staging / SITE_PACKAGES_DIR
    target.mkdir(parents=True)
    try:
        text = read_requirements(requirements)
        hashed = local_inputs(requirements, Path(requirements.anchor)).hashed
        installer = find_installer(target, requirements, require_hashes=hashed)
        if _has_requirements(text):
            names = ", ".join(functions) or "the service"
            logger.info("%s: installing requirements of %s with %s into %s", display_path, names, installer.name,
                        environment.path)
            listed = [line for line in normalise_requirements(text).splitlines() if not line.startswith("-")]
            progress = InstallProgress(display_path, installer.name, expected=len(listed))
            key = board.start(progress) if board is not None else None
            try:
                await _run(installer, requirements.parent, remaining_s, limit_s, display_path, progress)
                progress.finish(succeeded=True)
            except BaseException:
                progress.finish(succeeded=False)
                raise
            finally:
                if board is not None and key is not None:
                    board.end(key)
        else:
            logger.info("%s: no packages listed; the environment stays empty", display_path)

        # The marker is written last, so a folder with the marker is a finished install.
        description = {
            "requirements": normalise_requirements(text),
            "interpreter": interpreter_tag(),
            "installer": installer.name,
            "installed_at": time.time(),
        }
        (staging / environment.marker.name).write_text(json.dumps(description, indent=2) + "\n")
        os.rename(staging, environment.path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_requirement_files(service: ServiceSpec) -> None:
    """Raise DeployError for a requirements file of `service` that a deploy cannot read or install from, installing nothing.

    `service.root` is the service folder (for a plan) or its code copy (for a deploy).
    """
    for requirements in _requirement_users(service):
        display_path = _display_path(service, requirements)
        try:
            inputs = local_inputs(requirements, service.root)
        except (OSError, UnicodeDecodeError) as error:
            raise DeployError(f"{display_path}: cannot read the requirements: {error}") from error
        _check_inputs(service, requirements, inputs)


def _requirement_users(service: ServiceSpec) -> dict[Path, list[str]]:
    """Map each requirements file of `service` to the functions that install from it."""
    users: dict[Path, list[str]] = collections.defaultdict(list)
    for spec in service.functions.values():
        requirements = find_requirements(service.root, spec.handler_path, spec.code_dir)
        if requirements is not None:
            users[requirements].append(spec.name)
    return users


def _check_inputs(service: ServiceSpec, requirements: Path, inputs: LocalInputs) -> None:
    """Raise DeployError for requirement lines a deploy cannot install: paths outside the service folder, or -e.

    The error names the file that contains the line, which may be one that `requirements` includes.
    """
    outside, editable = inputs.outside, inputs.editable
    if outside:
        display_path = _display_path(service, inputs.found_in.get(outside[0], requirements))
        raise DeployError(
            f"{display_path}: {outside[0]!r} names a path outside the service folder, which a deploy does not copy;"
            " move the file or package into the service folder and name it from there"
        )
    if editable:
        display_path = _display_path(service, inputs.found_in.get(editable[0], requirements))
        raise DeployError(
            f"{display_path}: {editable[0]!r} asks for an editable install, whose .pth file Squall's runtime does not"
            " read, as Lambda's does not read one in a deployment package; name the path without -e"
        )


def _has_requirements(text: str) -> bool:
    # A file of options only (such as --no-index) makes pip stop with "You must give at least one requirement".
    for line in normalise_requirements(text).splitlines():
        option = line.split(maxsplit=1)[0].split("=", 1)[0]
        if not line.startswith("-") or option in _REQUIREMENT_OPTIONS:
            return True
    return False


async def _run(
    installer: Installer, cwd: Path, remaining_s: float, limit_s: float, display_path: str,
    progress: InstallProgress | None = None,
) -> None:
    """Run the installer, logging each line of its output; raise DeployError when it fails or times out."""
    tail: collections.deque[str] = collections.deque(maxlen=ERROR_TAIL_LINES)
    summary: list[str] = []
    try:
        process = await asyncio.create_subprocess_exec(
            *installer.command,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # A session of its own lets a timeout kill the build processes the installer starts, too.
            start_new_session=True,
        )
    except OSError as error:
        raise DeployError(f"{display_path}: cannot start {installer.name} ({installer.command[0]}): {error}") from error

    try:
        async with asyncio.timeout(remaining_s):
            await _stream_output(process, tail, summary, display_path, progress)
            code = await process.wait()
    except TimeoutError:
        raise DeployError(
            f"{display_path}: installing the requirements took longer than the limit of {limit_s:g} s and was stopped; "
            f"raise {INSTALL_TIMEOUT_VARIABLE} or shorten the requirements. {installer.name}'s last lines:\n"
            + "\n".join(tail)
        ) from None
    finally:
        if process.returncode is None:
            _kill_session(process.pid)
            await process.wait()

    if code != 0:
        # Error lines that scrolled out of the tail come first, so the message names what failed.
        earlier = [line for line in summary if line not in tail]
        quoted = "\n".join([*earlier, *(["..."] if earlier else []), *tail])
        raise DeployError(
            f"{display_path}: installing the requirements failed ({installer.name} exited with code {code}); "
            f"fix the file and deploy again. {installer.name}'s output:\n" + quoted
        )


async def _stream_output(
    process: asyncio.subprocess.Process, tail: collections.deque[str], summary: list[str], display_path: str,
    progress: InstallProgress | None,
) -> None:
    # Reading chunks rather than readline() keeps a very long line from raising LimitOverrunError.
    if process.stdout is None:
        return
    pending = b""
    while chunk := await process.stdout.read(_READ_CHUNK_BYTES):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            _log_line(line, tail, summary, display_path, progress)
    if pending:
        _log_line(pending, tail, summary, display_path, progress)


def _log_line(
    raw: bytes, tail: collections.deque[str], summary: list[str], display_path: str, progress: InstallProgress | None
) -> None:
    line = raw.decode("utf-8", "replace").rstrip()
    if line.strip():
        tail.append(line)
        if len(summary) < ERROR_SUMMARY_LINES and _ERROR_LINE.match(line):
            summary.append(line)
        logger.info("%s: %s", display_path, line)
        if progress is not None:
            progress.observe(line)


def _kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended by itself in the meantime


@contextlib.asynccontextmanager
async def _exclusive(lock: Path, timeout_s: float, display_path: str) -> AsyncIterator[None]:
    """Hold an exclusive flock on `lock`, waiting without blocking the event loop for at most `timeout_s`."""
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DeployError(
                        f"{display_path}: another deploy has been installing the same requirements for over "
                        f"{timeout_s:g} s; try again once it ends"
                    ) from None
                await asyncio.sleep(LOCK_RETRY_INTERVAL_S)
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(descriptor)


def _remove_leftovers(environment: Environment) -> None:
    """Delete staging folders of crashed installs and an environment folder without its marker.

    Only the holder of the digest's lock calls this, so no install of the
    digest is running.
    """
    for leftover in environment.path.parent.glob(f".{environment.digest}.*.staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    if environment.path.exists():
        logger.warning("removing the unfinished environment %s", environment.path)
        shutil.rmtree(environment.path, ignore_errors=True)


def _display_path(service: ServiceSpec, requirements: Path) -> str:
    """Name a requirements file of the code copy by its place in the service folder."""
    try:
        relative = requirements.relative_to(service.root)
    except ValueError:
        # An included file's resolved path, where the copy's own path goes through a symlink.
        relative = requirements.relative_to(service.root.resolve())
    return str(service.manifest_path.parent / relative)
