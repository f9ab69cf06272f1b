"""Published function versions and aliases, kept in DATA/versions.db.

A version is a deployed function frozen under a number: it points at the
immutable code copy under DATA/code/<digest> and at the manifest inside that
copy, so the dispatcher can load the function's spec again and serve it long
after `$LATEST` has moved on. An alias names one version, optionally with a
second version that gets a fraction of the invocations, as Lambda's routing
configuration does.
"""

from __future__ import annotations

import dataclasses
import logging
import random as random_module
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from squall.deploy.snapshot import same_files
from squall.errors import SquallError
from squall.manifest.spec import ALIAS_PATTERN, FunctionSpec, ServiceSpec

logger = logging.getLogger(__name__)

LATEST = "$LATEST"
MAX_EXTRA_VERSIONS = 1  # Lambda routes an alias to at most one additional version

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    function TEXT NOT NULL,
    version INTEGER NOT NULL,
    service TEXT NOT NULL,
    root TEXT NOT NULL,
    manifest TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (function, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    function TEXT NOT NULL,
    alias TEXT NOT NULL,
    version TEXT NOT NULL,
    extra_version INTEGER,
    extra_weight REAL,
    PRIMARY KEY (function, alias)
);
-- The highest number each function has published, so that a deleted version's number is never used again.
CREATE TABLE IF NOT EXISTS version_numbers (
    function TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
"""


class InvalidVersionRequest(SquallError, ValueError):
    """Raised when a publish or alias request names an invalid alias, version or weight."""


class VersionInUse(SquallError):
    """Raised when a version or alias cannot be deleted because something still uses it."""


class QualifierNotFound(SquallError, LookupError):
    """Raised when a qualifier is neither $LATEST, a published version nor an alias of the function."""

    def __init__(self, function: str, qualifier: str, message: str | None = None) -> None:
        self.function = function
        self.qualifier = qualifier
        super().__init__(message or f"function {function!r} has no version or alias {qualifier!r}")


@dataclass(frozen=True)
class PublishedVersion:
    """One published version: the code copy and manifest it was deployed from."""

    function: str
    version: int
    service: str
    root: Path
    manifest: Path  # inside `root`
    description: str
    created_at: float


@dataclass(frozen=True)
class Alias:
    """An alias: its version, and an optional extra version with the fraction of invocations it gets."""

    function: str
    name: str
    version: str  # "$LATEST" or a version number
    extra_version: int | None = None
    extra_weight: float | None = None


class VersionStore:
    """SQLite-backed versions and aliases of every function; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Versions

    def publish(self, function: str, service: str, root: Path, description: str = "", *, manifest: Path) -> int:
        """Publish the function as deployed from `root` and return its version number.

        As on Lambda, publishing code and settings identical to the latest
        version returns that version instead of a new one. The code copy's
        digest covers the manifest, so the same root means the same settings.
        """
        root = Path(root)
        manifest = Path(manifest)
        if not manifest.is_relative_to(root):
            raise InvalidVersionRequest(f"manifest {str(manifest)!r} is not inside the code copy {str(root)!r}")
        with self._lock:
            row = self._db.execute(
                "SELECT version, root, manifest FROM versions WHERE function = ? ORDER BY version DESC LIMIT 1",
                (function,),
            ).fetchone()
            if row is not None and (row[1], row[2]) == (str(root), str(manifest)):
                return int(row[0])
            counted = self._db.execute("SELECT last FROM version_numbers WHERE function = ?", (function,)).fetchone()
            version = max(0 if row is None else int(row[0]), 0 if counted is None else int(counted[0])) + 1
            self._db.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (function, version, service, str(root), str(manifest), description, time.time()),
            )
            self._db.execute("INSERT OR REPLACE INTO version_numbers VALUES (?, ?)", (function, version))
        logger.info("published %s version %d from %s", function, version, root)
        return version

    def publish_if_changed(self, spec: FunctionSpec, service: str, root: Path, *, manifest: Path) -> int:
        """Publish the function as deployed from `root`, unless its code folder and settings equal the latest version's.

        Return the new version, or the latest one when nothing of the function
        changed. Unlike `publish`, a change elsewhere in the service folder
        (another function's folder, a README) publishes nothing, as SAM's
        AutoPublishAlias publishes on a change of the function's own code.
        """
        published = self.versions(spec.name)
        if published:
            latest = published[-1]
            try:
                before = self.load(spec.name, str(latest.version)).functions[spec.name]
            except (OSError, LookupError, SquallError) as error:
                logger.warning("comparing %s with its version %d failed (%s), so a new version is published", spec.name, latest.version, error)
            else:
                # As for a redeploy's instances, an edit of the manifest that leaves the function as it was is no change.
                ignore = frozenset({manifest.name, ".squall"}) if not spec.code_dir else frozenset()
                if _without_events(before) == _without_events(spec) and same_files(
                    latest.root / spec.code_dir, Path(root) / spec.code_dir, ignore
                ):
                    return latest.version
        return self.publish(spec.name, service, root, manifest=manifest)

    def roots(self) -> set[Path]:
        """Return the code copies that published versions run from."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT root FROM versions").fetchall()
        return {Path(row[0]) for row in rows}

    def versions(self, function: str) -> list[PublishedVersion]:
        """Return the function's published versions, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM versions WHERE function = ? ORDER BY version", (function,)
            ).fetchall()
        return [_version_of(row) for row in rows]

    def get(self, function: str, version: int) -> PublishedVersion:
        """Return one published version; raises QualifierNotFound when there is none."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM versions WHERE function = ? AND version = ?", (function, version)
            ).fetchone()
        if row is None:
            raise QualifierNotFound(function, str(version))
        return _version_of(row)

    def load(self, function: str, version: str) -> ServiceSpec:
        """Load the service spec of a published version from its manifest, with `root` at the code copy."""
        # Imported here so that the CLI, which imports this module, stays quick to start.
        from squall.manifest import load_manifest_file

        published = self.get(function, int(version))
        service = load_manifest_file(published.manifest, service_name=published.service)
        if function not in service.functions:
            raise QualifierNotFound(function, version)
        # NOTE: layers and requirements are not stored again here; a version whose
        # function uses them relies on what the deploy of that code copy stored.
        return dataclasses.replace(service, root=published.root)

    def delete_version(self, function: str, version: int) -> None:
        """Delete a published version; its number is not used again.

        Raises QualifierNotFound when there is no such version, and
        VersionInUse when an alias points at it, as Lambda refuses to.
        """
        self.get(function, version)
        users = [
            alias.name for alias in self.aliases(function) if alias.version == str(version) or alias.extra_version == version
        ]
        if users:
            raise VersionInUse(
                f"version {version} of {function!r} cannot be deleted: alias {', '.join(users)} points at it; "
                "move or remove the alias first"
            )
        with self._lock:
            self._db.execute("DELETE FROM versions WHERE function = ? AND version = ?", (function, version))
        logger.info("deleted %s version %d", function, version)

    # Aliases

    def delete_alias(self, function: str, alias: str) -> Alias:
        """Delete an alias and return what it pointed at; raises QualifierNotFound when the function has no such alias."""
        aliases = {a.name: a for a in self.aliases(function)}
        existing = aliases.get(alias)
        if existing is None:
            names = ", ".join(sorted(aliases)) or "none"
            raise QualifierNotFound(function, alias, f"function {function!r} has no alias {alias!r}; its aliases: {names}")
        with self._lock:
            self._db.execute("DELETE FROM aliases WHERE function = ? AND alias = ?", (function, alias))
        logger.info("deleted alias %s of %s", alias, function)
        return existing

    def set_alias(self, function: str, alias: str, version: str | int, extra: dict[int, float] | None = None) -> Alias:
        """Create or move an alias, following Lambda's rules for names, versions and routing weights."""
        if not ALIAS_PATTERN.fullmatch(alias) or alias.isdigit():
            raise InvalidVersionRequest(
                f"alias name {alias!r} is invalid: expected 1 to 128 letters, digits, '-' or '_', not only digits"
            )
        primary = self._check_alias_target(function, str(version))
        extra = extra or {}
        if len(extra) > MAX_EXTRA_VERSIONS:
            raise InvalidVersionRequest(
                f"alias {alias!r} routes to {len(extra)} additional versions {sorted(extra)}; at most 1 is allowed"
            )
        extra_version: int | None = None
        extra_weight: float | None = None
        for extra_version, extra_weight in extra.items():
            if primary == LATEST:
                raise InvalidVersionRequest(f"alias {alias!r} points at $LATEST, which cannot have routing weights")
            self._check_alias_target(function, str(extra_version))
            if str(extra_version) == primary:
                raise InvalidVersionRequest(
                    f"alias {alias!r}: additional version {extra_version} is the alias's own version; name another one"
                )
            if not 0.0 <= extra_weight <= 1.0:
                raise InvalidVersionRequest(
                    f"alias {alias!r}: weight of version {extra_version} is {extra_weight}; expected 0.0 to 1.0"
                )

        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?, ?)",
                (function, alias, primary, extra_version, extra_weight),
            )
        logger.info("alias %s of %s now points at version %s", alias, function, primary)
        return Alias(function, alias, primary, extra_version, extra_weight)

    def aliases(self, function: str) -> list[Alias]:
        with self._lock:
            rows = self._db.execute(
                "SELECT function, alias, version, extra_version, extra_weight FROM aliases WHERE function = ? "
                "ORDER BY alias",
                (function,),
            ).fetchall()
        return [Alias(*row) for row in rows]

    def resolve(self, function: str, qualifier: str | None, random: Callable[[], float] = random_module.random) -> str:
        """Return the version a qualifier selects: "$LATEST" or a version number as a string.

        An alias with an additional version picks it when `random()` falls
        below its weight. Raises QualifierNotFound for an unknown qualifier.
        """
        if qualifier in (None, "", LATEST):
            return LATEST
        if qualifier.isdigit():
            if str(int(qualifier)) != qualifier:
                # As on Lambda, a qualifier names a version only in its own spelling: "01" names none.
                raise QualifierNotFound(function, qualifier)
            return self._check_version(function, qualifier)
        with self._lock:
            row = self._db.execute(
                "SELECT version, extra_version, extra_weight FROM aliases WHERE function = ? AND alias = ?",
                (function, qualifier),
            ).fetchone()
        if row is None:
            raise QualifierNotFound(function, qualifier)
        version, extra_version, extra_weight = row
        if extra_version is not None and random() < extra_weight:
            return str(extra_version)
        return str(version)

    def _check_version(self, function: str, version: str) -> str:
        """Return the version in its canonical spelling, or raise when it is not published."""
        if version == LATEST:
            return LATEST
        if not version.isdigit():
            raise InvalidVersionRequest(f"version {version!r} of {function!r} is invalid: expected $LATEST or a number")
        self.get(function, int(version))
        return str(int(version))

    def _check_alias_target(self, function: str, version: str) -> str:
        """Like _check_version, with the published versions in the error, for a person setting an alias."""
        try:
            return self._check_version(function, version)
        except QualifierNotFound:
            published = [str(v.version) for v in self.versions(function)]
            choices = ", ".join(["$LATEST", *published])
            hint = "" if published else f" (publish one with `squall publish {function}`)"
            raise QualifierNotFound(function, version, f"function {function!r} has no version {version}; "
                                    f"its versions are {choices}{hint}") from None


def _version_of(row: tuple) -> PublishedVersion:
    function, version, service, root, manifest, description, created_at = row
    return PublishedVersion(function, int(version), service, Path(root), Path(manifest), description, created_at)


def _without_events(spec: FunctionSpec) -> FunctionSpec:
    """Return the spec without its events, which SAM's AutoPublishAlias does not count as a change of the function.

    SAM publishes on a change of the code or of a property of the Lambda
    function itself. Routes and triggers are resources of their own, which
    invoke the alias whatever version it names.
    """
    return dataclasses.replace(spec, http=(), triggers=())
