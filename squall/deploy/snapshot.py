"""Immutable, content-addressed copies of a service's code.

A deploy copies the folder's files into `CODE_DIR/<digest>`, where the digest
covers every file's path and content. Instances import from that copy, so an
edit to the folder reaches them only through a new deploy, and every instance
of a deploy runs the same code.
"""

from __future__ import annotations

import compileall
import filecmp
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from squall.deploy.variables import VARIABLES_FILE, DeployVariables, write_copy_variables
from squall.errors import DeployError

if TYPE_CHECKING:
    from squall.manifest.spec import ServiceSpec

logger = logging.getLogger(__name__)

# Folders that hold tools' state rather than a function's code. `.serverless`
# and `.aws-sam` hold the Serverless Framework's and SAM's build output: old
# zip files and copies of the code, which the Framework leaves out too.
# Editors' settings (.idea, .vscode) and test tools' environments and caches
# change while a developer works, and a function never reads them.
EXCLUDED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".squall", ".pytest_cache", ".mypy_cache",
     ".ruff_cache", ".tox", ".nox", ".idea", ".vscode", ".serverless", ".serverless_plugins", ".aws-sam"}
)
EXCLUDED_FILES = frozenset({".DS_Store", "Thumbs.db", ".coverage", "4913"})
# Editors' swap, backup, autosave and lock files: Vim's .NAME.swp (and .swo,
# .swx, ...), backups ending in ~, Emacs's #NAME# and .#NAME, and JetBrains
# IDEs' NAME___jb_tmp___ and NAME___jb_old___ of a safe write. Vim also writes
# and deletes a file named 4913 to test that it may write in a folder.
_EDITOR_FILE = re.compile(r"\..+\.sw[a-z]|.*~|#.*#|\.#.*|.+___jb_(tmp|old)___|\.coverage\..+")
# A folder that holds this file is a Squall server's data folder (its lock),
# which a deploy never copies: it holds that server's secret key and databases.
DATA_FOLDER_MARKER = "server.lock"
# Lambda's 250 MB limit on a function's unzipped code, in bytes as its API reports it.
MAX_SNAPSHOT_BYTES = 250 * 1024 * 1024
_READ_CHUNK_BYTES = 1024 * 1024
# Inside a copy: by code folder, the digest of its files without the manifest and the variables, as JSON.
CODE_DIGEST_FILE = ".squall/code-digest"


def code_files(
    folder: Path, exclude: Path | None = None, patterns: tuple[str, ...] = (), keep: str | tuple[str, ...] | None = None
) -> list[tuple[str, Path]]:
    """List (relative path, path) of the files a deploy of `folder` copies, sorted.

    `patterns` choose among them as serverless.yml's package.patterns do (see
    `PackagePatterns`). What `keep` names, relative paths such as the
    manifest's or a layer's folder, is copied whatever the patterns match: a
    file, or a folder with everything in it.
    """
    chosen = PackagePatterns(patterns)
    always_copied = (keep,) if isinstance(keep, str) else tuple(keep or ())
    copied_folders = tuple(f"{path.rstrip('/')}/" for path in always_copied)
    found: list[tuple[str, Path]] = []
    # Symlinked folders are followed, so a folder shared by a symlink deploys with the
    # service. A link back to a folder already walked is skipped.
    walked: set[Path] = set()
    total = 0

    def unreadable(error: OSError) -> None:
        logger.warning("%s: cannot read %s, so a deploy leaves it out: %s", folder, error.filename, error.strerror)

    for directory, subdirectories, files in os.walk(folder, onerror=unreadable, followlinks=True):
        current = Path(directory)
        real = current.resolve()
        if real in walked:
            subdirectories[:] = []
            continue
        walked.add(real)
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in EXCLUDED_DIRS
            and (exclude is None or (current / name).resolve() != exclude)
            and not (current / name / DATA_FOLDER_MARKER).exists()
        )
        for name in files:
            path = current / name
            if is_excluded_file(name):
                continue
            if not path.is_file():
                if path.is_symlink():
                    logger.warning("%s: %s is a broken symlink, so a deploy leaves it out", folder, path)
                continue
            relative = path.relative_to(folder).as_posix()
            if not _is_text_name(relative):
                raise DeployError(
                    f"{folder}: the file name {relative!r} is not valid UTF-8, which a deploy needs for its"
                    " copy; rename the file"
                )
            if relative in always_copied or relative.startswith(copied_folders) or chosen.includes(relative):
                found.append((relative, path))
                total += path.stat().st_size
                if total > MAX_SNAPSHOT_BYTES:
                    # Checked while walking, so a symlink to a large folder stops the walk early.
                    raise _too_large(folder, total)
    found.sort()
    return found


def _too_large(folder: Path, total: int) -> DeployError:
    return DeployError(
        f"{folder}: the code to deploy is {total} bytes, over the limit of {MAX_SNAPSHOT_BYTES}; "
        f"move data out of the folder or into one of the skipped folders ({', '.join(sorted(EXCLUDED_DIRS))})"
    )


def _is_text_name(name: str) -> bool:
    """Tell whether a path from the file system is valid UTF-8 (no surrogate escapes of undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_excluded_file(name: str) -> bool:
    """Tell whether a deploy leaves out the file `name`: compiled bytecode, or an editor's or a tool's working file."""
    return name.endswith(".pyc") or name in EXCLUDED_FILES or _EDITOR_FILE.fullmatch(name) is not None


def is_excluded_path(relative: Path) -> bool:
    """Tell whether a deploy leaves out the file or folder at `relative`, a path inside the service folder."""
    return is_excluded_file(relative.name) or any(part in EXCLUDED_DIRS for part in relative.parts)


def snapshot(
    folder: Path,
    code_dir: Path,
    exclude: Path | None = None,
    variables: DeployVariables | None = None,
    patterns: tuple[str, ...] = (),
    keep: str | tuple[str, ...] | None = None,
    manifest: str | None = None,
    code_dirs: tuple[str, ...] = ("",),
) -> Path:
    """Copy `folder` into `code_dir/<digest>` unless that copy exists, and return the copy's path.

    `exclude` is a folder left out, such as the server's data folder when it
    lies inside the service folder. `variables`, when given, are written into
    the copy and count in its digest. `manifest` is the manifest's relative
    path, which the copy's code digests (see `copy_code_digest`) leave out;
    `code_dirs` are the functions' code folders ("" for the whole copy), each
    of which gets one. Raises DeployError past MAX_SNAPSHOT_BYTES.
    """
    files = code_files(folder, exclude.resolve() if exclude else None, patterns, keep)
    unreadable = [relative for relative, path in files if not os.access(path, os.R_OK)]
    if unreadable:
        raise DeployError(
            f"{folder}: cannot read {unreadable[0]} (permission denied); make it readable to the user that runs the"
            " server, or move it out of the service folder"
        )
    total = sum(path.stat().st_size for _, path in files)
    if total > MAX_SNAPSHOT_BYTES:
        raise _too_large(folder, total)

    digest, code = _digests(files, variables, manifest, code_dirs)
    target = code_dir / digest
    if target.is_dir():
        if _recorded_digests(target) != code:
            # Without them, as in a copy made before copies recorded digests, a plan shows every function as changed.
            try:
                _record_digests(target, code)
            except OSError as error:
                logger.warning("recording the code digests in %s failed, so plans show its code as changed: %s", target, error)
        return target

    # Copy into a temporary folder and rename it, so a copy is whole or absent.
    code_dir.mkdir(parents=True, exist_ok=True)
    staging = code_dir / f".{digest}.{uuid.uuid4().hex}"
    try:
        for relative, path in files:
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        staging.mkdir(exist_ok=True)
        if variables is not None and not variables.empty:
            write_copy_variables(staging, variables)
        _record_digests(staging, code)
        compile_bytecode(staging)
        os.rename(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():
            return target  # another deploy of the same code finished first
        raise DeployError(f"{folder}: cannot copy the code to {target}: {error}") from error
    logger.info("copied %d files (%d bytes) of %s to %s", len(files), total, folder, target)
    return target


def prune_copies(code_dir: Path, keep: set[Path]) -> tuple[int, int]:
    """Delete the code copies in `code_dir` not in `keep`, with their layer records; return how many and their bytes.

    Folders being copied (their names start with a dot) are left alone.
    """
    from squall.deploy.layers import bindings_path

    removed = freed = 0
    kept_roots = {path.resolve() for path in keep}
    try:
        copies = [path for path in code_dir.iterdir() if path.is_dir() and not path.name.startswith(".")]
    except OSError:
        return 0, 0
    for copy in copies:
        if copy.resolve() in kept_roots:
            continue
        size = sum(path.stat().st_size for path in copy.rglob("*") if path.is_file() and not path.is_symlink())
        shutil.rmtree(copy, ignore_errors=True)
        if copy.exists():
            logger.warning("cannot delete the unused code copy %s", copy)
            continue
        bindings_path(copy).unlink(missing_ok=True)
        removed += 1
        freed += size
    return removed, freed


def kept_paths(service: ServiceSpec, folder: Path) -> tuple[str, ...]:
    """Return the paths a deploy copies whatever package.patterns match: the manifest, and each layer's folder or file.

    The Serverless Framework packages a layer from its own path, so a pattern
    that leaves the layer out of the functions' package is common.
    """
    return (service.manifest_path.relative_to(folder).as_posix(), *(layer.path for layer in service.layers))


def code_digest(
    folder: Path,
    variables: DeployVariables | None = None,
    patterns: tuple[str, ...] = (),
    keep: str | tuple[str, ...] | None = None,
    manifest: str | None = None,
    code_dirs: tuple[str, ...] = ("",),
) -> tuple[str, dict[str, str]]:
    """Return the digests a deploy of `folder` would give its copy and its code folders, without copying anything.

    The first names the copy. The others, by code folder ("" for the whole
    folder), leave out the manifest at the relative path `manifest` and the
    variables, as `copy_code_digest` does.
    """
    return _digests(code_files(folder, None, patterns, keep), variables, manifest, code_dirs)


def copy_code_digest(copy: Path, code_dir: str = "") -> str:
    """Return the digest of a copy's code folder without the manifest and variables, or the copy's name for an older copy.

    A redeploy keeps a function's instances when neither its settings nor
    the files of its code folder changed, the manifest aside, so a plan
    compares this digest, not the copy's name.
    """
    return _recorded_digests(copy).get(code_dir, copy.name)


def _record_digests(copy: Path, digests: dict[str, str]) -> None:
    """Write the code folders' digests into a copy, replacing the file whole."""
    path = copy / CODE_DIGEST_FILE
    path.parent.mkdir(exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    staging.write_text(json.dumps(digests, sort_keys=True) + "\n")
    os.replace(staging, path)
    _recorded_digests.cache_clear()


@functools.lru_cache(maxsize=256)
def _recorded_digests(copy: Path) -> dict[str, str]:
    # Only `_record_digests` changes the file, and it clears this cache.
    try:
        recorded = json.loads((copy / CODE_DIGEST_FILE).read_text())
    except (OSError, ValueError):
        return {}  # made before copies recorded their digests
    return recorded if isinstance(recorded, dict) else {}


def compile_bytecode(folder: Path) -> None:
    """Write the bytecode of every module in `folder`, which instances cannot write where their code is read-only.

    A module that does not compile is skipped: importing it reports the error.
    """
    compileall.compile_dir(folder, quiet=2, workers=1)


class PackagePatterns:
    """Globs that choose files by their path relative to the service folder, as serverless.yml's package.patterns.

    Every file is chosen at first. The patterns apply in order, and the last
    one that matches a path decides: "!glob" leaves the file out, and "glob"
    takes it back. `*` and `?` stay within one folder name, while `**` spans folders.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._rules = [(not pattern.startswith("!"), _glob_regex(pattern.lstrip("!"))) for pattern in patterns]

    def includes(self, relative: str) -> bool:
        chosen = True
        for include, regex in self._rules:
            if regex.fullmatch(relative):
                chosen = include
        return chosen


def _glob_regex(glob: str) -> re.Pattern[str]:
    glob = glob.removeprefix("./")
    parts: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            parts.append(".*")
            index += 2
        elif glob[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(parts))


def environment_digest(environment: dict[str, str]) -> str:
    """Return a short digest of a function's environment, to tell a change without showing the values."""
    text = "\0".join(f"{name}={value}" for name, value in sorted(environment.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _digests(
    files: list[tuple[str, Path]],
    variables: DeployVariables | None = None,
    manifest: str | None = None,
    code_dirs: tuple[str, ...] = ("",),
) -> tuple[str, dict[str, str]]:
    """Return the digest of all `files` and the variables, and by code folder the digest of its files but `manifest`."""
    whole = hashlib.sha256()
    folders = {code_dir: hashlib.sha256() for code_dir in code_dirs}
    if variables is not None and not variables.empty:
        content = variables.file_content()
        whole.update(f"{VARIABLES_FILE}\0{len(content)}\0".encode() + content)
    for relative, path in files:
        digests = [whole]
        if relative != manifest:
            # A file counts for each code folder it lies in.
            digests += [code for code_dir, code in folders.items() if not code_dir or relative.startswith(code_dir + "/")]
        # The length before the content keeps one file's bytes from passing for the next path.
        header = f"{relative}\0{path.stat().st_size}\0".encode()
        for digest in digests:
            digest.update(header)
        with open(path, "rb") as file:
            while chunk := file.read(_READ_CHUNK_BYTES):
                for digest in digests:
                    digest.update(chunk)
    return whole.hexdigest()[:20], {code_dir: code.hexdigest()[:20] for code_dir, code in folders.items()}


def same_files(first: Path, second: Path, ignore: frozenset[str] = frozenset()) -> bool:
    """Return whether two folders contain the same files with the same bytes, bytecode caches aside.

    `ignore` names paths relative to the folders (files, or folders with all they contain) left out of the comparison.
    """
    if first == second:
        return True

    def listing(folder: Path) -> list[str]:
        names = []
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if not path.is_file() or "__pycache__" in relative.parts:
                continue
            if any(str(Path(*relative.parts[:depth])) in ignore for depth in range(1, len(relative.parts) + 1)):
                continue
            names.append(str(relative))
        return sorted(names)

    names = listing(first)
    if names != listing(second):
        return False
    return all(filecmp.cmp(first / name, second / name, shallow=False) for name in names)
