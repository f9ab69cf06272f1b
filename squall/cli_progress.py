"""The deploy's progress display: a spinner, and a bar per requirements file the server installs."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from squall.cli_client import API_PREFIX, CommandFailed

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25


class _Client(Protocol):
    def get_json(self, path: str, params: dict[str, str | int | float] | None = None) -> dict[str, Any]: ...


class _ForBars(ProgressColumn):
    """Draw a column only for tasks with a total, so the spinner row shows no empty bar and no "0/?"."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self._column = column

    def render(self, task: Task) -> RenderableType:
        return self._column(task) if task.total is not None else Text("")


class InstallWatcher:
    """While the deploy request runs, ask the server for its installs and draw them.

    The deploy itself blocks the command's thread, so the server is asked
    from a thread of its own. A failed poll draws nothing new, because the
    deploy's own response shows whether it worked.
    """

    def __init__(self, client: _Client, console: Console, status: str, interval_s: float = POLL_INTERVAL_S) -> None:
        self._client = client
        self._interval_s = interval_s
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            _ForBars(BarColumn()),
            _ForBars(MofNCompleteColumn()),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._status = self._progress.add_task(status, total=None)
        self._bars: dict[str, TaskID] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="squall-deploy-progress", daemon=True)

    def __enter__(self) -> InstallWatcher:
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._progress.stop()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                response = self._client.get_json(f"{API_PREFIX}/installs")
            except CommandFailed as error:
                logger.debug("cannot read the install progress: %s", error)
                continue
            self.draw(response.get("installs") or [])

    def draw(self, installs: list[dict[str, Any]]) -> None:
        """Show each running install as a bar. A bar whose install has ended stays full."""
        running = set()
        for install in installs:
            name = str(install.get("requirements", "requirements"))
            running.add(name)
            description = f"installing {name} with {install.get('installer', 'pip')}"
            if install.get("phase") == "installing":
                description += ": unpacking"
            elif install.get("current"):
                description += f": {install['current']}"
            bar = self._bars.get(name)
            if bar is None:
                bar = self._bars[name] = self._progress.add_task(description, total=install.get("total"))
            self._progress.update(bar, description=description, total=install.get("total"),
                                  completed=install.get("completed", 0))
        for name, bar in self._bars.items():
            if name not in running:
                task = next(task for task in self._progress.tasks if task.id == bar)
                self._progress.update(bar, completed=task.total or task.completed)
