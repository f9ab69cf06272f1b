"""The requirements file of each function, and the environment it maps to.

A function's requirements are the nearest `requirements.txt` on the way from
its handler's folder up to the service folder: `src/requirements.txt` applies
to handler `src/app.handler` in place of a `requirements.txt` beside the
manifest. A function with a code folder of its own (a SAM `CodeUri` folder)
uses only the `requirements.txt` inside that folder, as `sam build` does, and
has none when that folder has none. Its normalised text and the interpreter's
tag name an environment, `DATA/envs/<digest>`, so functions with the same
requirements share one.

Everything here is a pure function of the code copy and the function's
code folder, so the deploy that installs an environment and the zygote that
imports from it find the same folder without passing it along.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REQUIREMENTS_FILE = "requirements.txt"
ENVIRONMENTS_DIR = "envs"
SITE_PACKAGES_DIR = "site-packages"
# Written last into a finished environment, so a folder without it is never used.
COMPLETE_MARKER = ".complete"

# pip treats "#" at the start of a line, or after whitespace, as the start of a comment.
_COMMENT = re.compile(r"(^|\s+)#.*$")


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


def environment_digest(normalised: str, tag: str | None = None) -> str:
    """Return the digest naming the environment of `normalised` requirements for interpreter `tag`.

    NOTE: only the file's own lines count. A change inside a file it includes
    with -r, a local package or a --find-links folder keeps the digest, so
    such a change needs a change of the requirements file too (a version pin).
    """
    digest = hashlib.sha256()
    digest.update((tag or interpreter_tag()).encode())
    digest.update(b"\0")
    digest.update(normalised.encode())
    return digest.hexdigest()[:20]


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
        f"so {', '.join(names)} would run without them; export them next to it ({exports[path]})"
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
    digest = environment_digest(normalise_requirements(requirements.read_text(encoding="utf-8")))
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
        logger.warning(
            "the environment %s of %s is not installed; deploy the service again to install it",
            environment.path,
            requirements,
        )
        return ()
    return (str(environment.site_packages),)
