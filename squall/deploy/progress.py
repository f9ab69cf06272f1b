"""Progress of requirement installs, read from the installer's output, for `squall deploy` to draw as a bar.

The installer prints one line per package it resolves ("Collecting NAME" or
"Processing FILE" from pip, "Resolved N packages" from uv) and one when it
starts installing. Each package counts as one step, and installing them all
as one more, so the bar fills as the installer gets through its list. The
total grows while transitive requirements turn up.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

_PIP_PACKAGE = re.compile(r"^(?:Collecting|Processing)\s+(\S+)")
_PIP_INSTALLING = re.compile(r"^Installing collected packages:\s*(.*)$")
_UV_RESOLVED = re.compile(r"^Resolved (\d+) packages?")
_UV_PREPARED = re.compile(r"^Prepared (\d+) packages?")
_NAME_END = re.compile(r"[\s<>=!~;\[(@]")


class Phase(Enum):
    RESOLVING = "resolving"
    INSTALLING = "installing"
    DONE = "done"
    FAILED = "failed"


@dataclass
class InstallProgress:
    """One install: the packages the installer has reached, out of those it has listed so far."""

    requirements: str  # the requirements file, with the path the user sees
    installer: str
    expected: int  # packages the file lists itself; the total is at least this
    started_at: float = field(default_factory=time.time)
    phase: Phase = Phase.RESOLVING
    packages: list[str] = field(default_factory=list)  # in the order the installer reached them
    total_packages: int | None = None  # known once the installer prints how many it installs

    def observe(self, line: str) -> None:
        """Move on according to one line of the installer's output."""
        line = line.strip()
        if match := _PIP_PACKAGE.match(line):
            name = _package_name(match.group(1))
            if name not in self.packages:
                self.packages.append(name)
        elif match := _PIP_INSTALLING.match(line):
            self.total_packages = len([name for name in match.group(1).split(",") if name.strip()])
            self.phase = Phase.INSTALLING
        elif match := _UV_RESOLVED.match(line):
            self.total_packages = int(match.group(1))
        elif match := _UV_PREPARED.match(line):
            self.packages = [f"package {number}" for number in range(int(match.group(1)))]
            self.phase = Phase.INSTALLING

    def finish(self, succeeded: bool) -> None:
        self.phase = Phase.DONE if succeeded else Phase.FAILED

    @property
    def total(self) -> int:
        """Steps: one per package, plus the install of them all."""
        packages = self.total_packages if self.total_packages is not None else max(self.expected, len(self.packages))
        return max(packages, len(self.packages)) + 1

    @property
    def completed(self) -> int:
        if self.phase is Phase.DONE:
            return self.total
        if self.phase is Phase.INSTALLING:
            return self.total - 1
        # The latest package is still being fetched.
        return max(0, len(self.packages) - 1)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requirements": self.requirements,
            "installer": self.installer,
            "phase": self.phase.value,
            "completed": self.completed,
            "total": self.total,
            "current": self.packages[-1] if self.packages and self.phase is Phase.RESOLVING else None,
            "elapsed_s": round(time.time() - self.started_at, 1),
        }


class InstallBoard:
    """The installs running on this server, for the progress route. Safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._installs: dict[int, InstallProgress] = {}
        self._next = 0

    def start(self, progress: InstallProgress) -> int:
        with self._lock:
            self._next += 1
            self._installs[self._next] = progress
            return self._next

    def end(self, key: int) -> None:
        with self._lock:
            self._installs.pop(key, None)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [progress.snapshot() for progress in self._installs.values()]


def _package_name(spec: str) -> str:
    """Return the package of a pip requirement or file: "idna<4,>=2.5" -> "idna", ".../idna-3.2-py3-none-any.whl" -> "idna"."""
    if "/" in spec:
        spec = spec.rstrip("/").rsplit("/", 1)[-1]
        if spec.endswith((".whl", ".tar.gz", ".zip")):
            return spec.split("-", 1)[0]
        return spec
    return _NAME_END.split(spec, 1)[0]
