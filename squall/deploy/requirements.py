"""The requirements file of each function, and the environment it maps to.

A function's requirements are the nearest `requirements.txt` on the way from
its handler's folder up to the service folder: `src/requirements.txt` applies
to handler `src/app.handler` in place of a `requirements.txt` beside the
manifest. A function with a code folder of its own (a SAM `CodeUri` folder)
uses only the `requirements.txt` inside that folder, as `sam build` does, and
has none when that folder has none. Its normalised text, the interpreter's
tag and the content of the local files it names (files it includes with -r
or -c, local packages, --find-links folders) name an environment,
`DATA/envs/<digest>`, so functions with the same requirements share one.

Everything here is a pure function of the code copy and the function's
code folder, so the deploy that installs an environment and the zygote that
imports from it find the same folder without passing it along.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import platform
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REQUIREMENTS_FILE = "requirements.txt"
ENVIRONMENTS_DIR = "envs"
SITE_PACKAGES_DIR = "site-packages"
# Written last into a finished environment, so a folder without it is never used.
COMPLETE_MARKER = ".complete"

# pip treats "#" at the start of a line, or after whitespace, as the start of a comment.
_COMMENT = re.compile(r"(^|\s+)#.*$")
# Options whose value is another requirements or constraints file, read as part of this one.
_INCLUDE_OPTIONS = frozenset({"-r", "--requirement", "-c", "--constraint"})
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_FIND_LINKS_OPTIONS = frozenset({"-f", "--find-links"})
# Build output that installing a local folder package may write inside it
# (setuptools' build/ and NAME.egg-info). The digest leaves it out, so that
# the digest after the install is the one before it.
_BUILD_OUTPUT = frozenset({"build", "dist", ".eggs", "__pycache__", ".git"})
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
# "--requirement other.txt" or "--requirement=other.txt".
_LONG_OPTION = re.compile(r"(--[\w-]+)(?:[= ]\s*(.*))?$")


@dataclass(frozen=True)
class Environment:
    """An installed (or to be installed) set of packages: `path` is `DATA/envs/<digest>`."""

    digest: str
    path: Path

    @property
    def site_packages(self) -> Path:
        """The folder packages are installed into and imported from."""
        return self.path / SITE_PACKAGES_DIR

    @property
    def marker(self) -> Path:
        return self.path / COMPLETE_MARKER

    @property
    def complete(self) -> bool:
        return self.marker.is_file()


def interpreter_tag() -> str:
    """Return the tag of the server's interpreter, such as "cpython-311-x86_64", which compiled packages depend on."""
    return f"{sys.implementation.cache_tag}-{platform.machine()}"


def normalise_requirements(text: str) -> str:
    """Return the requirement lines of `text` without comments or blank lines, sorted and without duplicates.

    Lines continued with a trailing backslash are joined first, as pip does.
    """
    joined = re.sub(r"\\\r?\n", "", text)
    lines = sorted({_COMMENT.sub("", line).strip() for line in joined.splitlines()} - {""})
    return "".join(f"{line}\n" for line in lines)


def environment_digest(
    normalised: str, tag: str | None = None, inputs: Sequence[Path] = (), code_root: Path | None = None
) -> str:
    """Return the digest naming the environment of `normalised` requirements for interpreter `tag`.

    `inputs` are the local files and folders the requirements name (see
    `LocalInputs`), whose content counts under their path relative to
    `code_root`, so two services with the same local package share an
    environment and a changed one gets a new environment.
    """
    digest = hashlib.sha256()
    digest.update((tag or interpreter_tag()).encode())
    digest.update(b"\0")
    digest.update(normalised.encode())
    for path in inputs:
        _add_input(digest, path, code_root or path.parent)
    return digest.hexdigest()[:20]


def read_requirements(path: Path) -> str:
    """Return the text of a requirements file: UTF-8, with or without a BOM, or UTF-16 with a BOM, as pip reads them."""
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


@dataclass(frozen=True)
class LocalInputs:
    """The local files and folders a requirements file names, its includes followed.

    `paths` are the included files, local packages (folders, wheels, source
    archives) and --find-links folders inside the code copy. `outside` are
    the lines that name a path outside it, which a deploy does not copy.
    `editable` are the -e lines, and `hashed` is whether any line carries
    --hash. `found_in` maps each line of `outside` and `editable` to the
    first file it is in.
    """

    paths: tuple[Path, ...]
    outside: tuple[str, ...]
    editable: tuple[str, ...]
    hashed: bool
    found_in: dict[str, Path] = field(default_factory=dict)


def local_inputs(requirements: Path, code_root: Path) -> LocalInputs:
    """Return the local files and folders that `requirements` and the files it includes name."""
    root = code_root.resolve()
    seen: set[Path] = set()
    paths: list[Path] = []
    outside: list[str] = []
    editable: list[str] = []
    found_in: dict[str, Path] = {}
    hashed = False

    def visit(file: Path) -> None:
        nonlocal hashed
        for line in normalise_requirements(read_requirements(file)).splitlines():
            hashed = hashed or "--hash" in line
            option, value = _split_option(line)
            if option in _EDITABLE_OPTIONS:
                editable.append(line)
                found_in.setdefault(line, file)
            if option in _INCLUDE_OPTIONS or option in _EDITABLE_OPTIONS:
                target: str | None = value
            elif option in _FIND_LINKS_OPTIONS:
                target = None if "://" in value else value
            elif option is None:
                target = _local_requirement(line, file.parent)
            else:
                target = None
            if not target:
                continue
            path = (file.parent / os.path.expanduser(target)).resolve()
            if not path.is_relative_to(root):
                outside.append(line)
                found_in.setdefault(line, file)
                continue
            if path in seen:
                continue
            seen.add(path)
            paths.append(path)
            if option in _INCLUDE_OPTIONS and path.is_file():
                visit(path)

    seen.add(requirements.resolve())
    visit(requirements)
    return LocalInputs(tuple(paths), tuple(outside), tuple(editable), hashed, found_in)


def _split_option(line: str) -> tuple[str | None, str]:
    """Split a requirements line into its option ("-r", "--find-links", ...) and value; None for a requirement."""
    if not line.startswith("-"):
        return None, line
    if line.startswith("--"):
        match = _LONG_OPTION.match(line)
        return (match[1], (match[2] or "").strip()) if match else (line, "")
    return line[:2], line[2:].strip()


def _local_requirement(line: str, folder: Path) -> str | None:
    """Return the path a requirement line installs from (a folder, wheel or archive), or None for a package name."""
    spec = line.split(";", 1)[0].split(" --", 1)[0].strip()
    if " @ " in spec:
        spec = spec.split(" @ ", 1)[1].strip()
    if spec.startswith("file:"):
        # file:///abs/path, file:../rel/path and file:rel/path all name a path.
        location = spec.removeprefix("file:")
        return location.removeprefix("//") if location.startswith("///") else location
    if "://" in spec:
        return None
    if spec.startswith((".", "/", "~")) or spec.endswith(_ARCHIVE_SUFFIXES):
        return spec
    if "/" in spec and (folder / spec).exists():
        return spec
    return None


def _add_input(digest: Any, path: Path, code_root: Path) -> None:
    """Add a local input's relative path and content to `digest`: a file's bytes, or a folder's files but its build output."""
    digest.update(b"\0" + os.fsencode(os.path.relpath(path, code_root)) + b"\0")
    if path.is_file():
        digest.update(path.read_bytes())
        return
    if not path.is_dir():
        digest.update(b"missing")
        return
    for directory, subdirectories, files in os.walk(path):
        subdirectories[:] = sorted(
            name for name in subdirectories if name not in _BUILD_OUTPUT and not name.endswith(".egg-info")
        )
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            file = Path(directory) / name
            digest.update(b"\0" + os.fsencode(os.path.relpath(file, path)) + b"\0")
            digest.update(file.read_bytes() if file.is_file() else b"")


def environments_dir(code_root: Path) -> Path:
    """Return `DATA/envs` for a code copy at `DATA/code/<digest>`, where deploys put them."""
    return code_root.parent.parent / ENVIRONMENTS_DIR


def find_requirements(code_root: Path, handler: str, code_dir: str = "") -> Path | None:
    """Return the requirements file that applies to `handler`, or None when the service has none.

    `handler` is relative to `code_root`. For a function with its own code
    folder `code_dir` (relative to `code_root`), only `code_dir/requirements.txt`
    counts. Otherwise the search starts in the handler module's folder ("src"
    for "src/app.handler" or "src.app.handler") and goes up to `code_root`,
    stopping at the first file.

    NOTE: a SAM function without a CodeUri also gets this search, so a
    `requirements.txt` in its handler's subfolder applies, where `sam build`
    would read only the one beside the template.
    """
    if code_dir:
        candidate = code_root / code_dir / REQUIREMENTS_FILE
        return candidate if candidate.is_file() else None
    module = handler.rsplit(".", 1)[0].replace("/", ".")
    parts = [part for part in module.split(".")[:-1] if part]
    for depth in range(len(parts), -1, -1):
        candidate = code_root.joinpath(*parts[:depth], REQUIREMENTS_FILE)
        if candidate.is_file():
            return candidate
    return None


def unread_dependency_warnings(code_root: Path, functions: dict[str, tuple[str, str]]) -> list[str]:
    """Warn about dependencies that a Poetry, PEP 621 or Pipenv file declares where no requirements.txt applies.

    `functions` maps each function's name to its handler and code folder.
    Squall installs only requirements.txt, so such a function would fail to
    import its dependencies at run time. The serverless-python-requirements
    plugin exports these files, and `sam build` does not read them either.
    """
    users: dict[Path, list[str]] = {}
    exports: dict[Path, str] = {}
    for name, (handler, code_dir) in functions.items():
        if find_requirements(code_root, handler, code_dir) is not None:
            continue
        for folder in _search_folders(code_root, handler, code_dir):
            found = [(path, _export_command(path)) for path in (folder / "pyproject.toml", folder / "Pipfile")]
            declared = next(((path, command) for path, command in found if command is not None), None)
            if declared is not None:
                users.setdefault(declared[0], []).append(name)
                exports[declared[0]] = declared[1]
                break
    return [
        f"{path.relative_to(code_root).as_posix()}: declares dependencies, but Squall installs only {REQUIREMENTS_FILE}, "
        f"so {', '.join(names)} would run without them installed (an import of one fails, or finds the copy in"
        f" Squall's own environment); export them next to it ({exports[path]})"
        for path, names in users.items()
    ]


def _search_folders(code_root: Path, handler: str, code_dir: str) -> list[Path]:
    """Return the folders find_requirements looks in, nearest first."""
    if code_dir:
        return [code_root / code_dir]
    module = handler.rsplit(".", 1)[0].replace("/", ".")
    parts = [part for part in module.split(".")[:-1] if part]
    return [code_root.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _export_command(path: Path) -> str | None:
    """Return the command that writes requirements.txt from a pyproject.toml or Pipfile listing packages, else None."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if path.name == "Pipfile":
        return "`pipenv requirements > requirements.txt`" if document.get("packages") else None
    poetry = document.get("tool", {}).get("poetry", {})
    if any(name.lower() != "python" for name in poetry.get("dependencies", {})):
        return "`poetry export -o requirements.txt`"
    if document.get("project", {}).get("dependencies"):
        return "`uv pip compile pyproject.toml -o requirements.txt`"
    return None


def environment_for(code_root: Path, requirements: Path) -> Environment:
    """Return the environment that the requirements file `requirements` of a code copy maps to."""
    inputs = local_inputs(requirements, code_root)
    digest = environment_digest(
        normalise_requirements(read_requirements(requirements)), inputs=inputs.paths, code_root=code_root
    )
    return Environment(digest, environments_dir(code_root) / digest)


def site_packages_for(code_root: Path, handler: str, code_dir: str = "") -> tuple[str, ...]:
    """Return the folders a function's instances import installed packages from, after its code.

    `handler` is the handler's path in the code copy, and `code_dir` the
    function's own code folder in it, if any (see find_requirements). Empty when no
    requirements file applies. A requirements file without a complete
    environment (deleted since the deploy) is logged, and the function
    starts without it, so its imports fail as Lambda reports them.
    """
    requirements = find_requirements(code_root, handler, code_dir)
    if requirements is None:
        return ()
    try:
        environment = environment_for(code_root, requirements)
    except (OSError, UnicodeDecodeError) as error:
        logger.warning("cannot read %s for handler %s: %s", requirements, handler, error)
        return ()
    if not environment.complete:
        # A code copy deployed before the digest covered local files uses the environment named by its text alone.
        earlier = _text_only_environment(code_root, requirements)
        if earlier is not None:
            return (str(earlier.site_packages),)
        logger.warning(
            "the environment %s of %s is not installed; deploy the service again to install it",
            environment.path,
            requirements,
        )
        return ()
    return (str(environment.site_packages),)


def _text_only_environment(code_root: Path, requirements: Path) -> Environment | None:
    """Return the complete environment named by the requirements' text alone, as deploys named it before, or None."""
    digest = environment_digest(normalise_requirements(read_requirements(requirements)))
    environment = Environment(digest, environments_dir(code_root) / digest)
    return environment if environment.complete else None
