"""Install progress: read from real installer output, kept on the board, and drawn by `squall deploy`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

from squall.cli_progress import InstallWatcher
from squall.deploy.dependencies import install_service_requirements
from squall.deploy.progress import InstallBoard, InstallProgress
from tests.deploy.test_dependencies import GOOD_REQUIREMENTS, make_code_copy, make_service

# Output of pip 26.3 installing `requests==2.31.0`, which pulls in four more packages, without its index warnings.
PIP_LINES = [
    "Looking in indexes: https://pypi.org/simple",
    "Collecting requests==2.31.0 (from -r requirements.txt (line 1))",
    "  Downloading requests-2.31.0-py3-none-any.whl (62 kB)",
    "Collecting charset-normalizer<4,>=2 (from requests==2.31.0->-r requirements.txt (line 1))",
    "  Downloading charset_normalizer-3.5.3-cp311-cp311-manylinux1_x86_64.whl (263 kB)",
    "Processing /opt/pypi/files/idna-3.20-py3-none-any.whl (from requests==2.31.0->-r requirements.txt (line 1))",
    "Processing /opt/pypi/files/urllib3-2.8.0-py3-none-any.whl (from requests==2.31.0->-r requirements.txt (line 1))",
    "Collecting certifi>=2017.4.17 (from requests==2.31.0->-r requirements.txt (line 1))",
    "  Downloading certifi-2026.10.19.post1-py3-none-any.whl (134 kB)",
    "Installing collected packages: urllib3, idna, charset-normalizer, certifi, requests",
    "Successfully installed certifi-2026.10.19.post1 charset-normalizer-3.5.3 idna-3.20 requests-2.31.0 urllib3-2.8.0",
]


def progress_after(lines: list[str]) -> InstallProgress:
    """Feed installer output lines, one at a time, to a new pip install's progress."""
    progress = InstallProgress("requirements.txt", "pip", expected=1)
    for line in lines:
        progress.observe(line)
    return progress


def test_progress_follows_pip_output() -> None:
    first = progress_after(PIP_LINES[:2])
    middle = progress_after(PIP_LINES[:6])
    installing = progress_after(PIP_LINES)
    done = progress_after(PIP_LINES)
    done.finish(succeeded=True)

    assert (first.completed, first.total, first.snapshot()["current"]) == (0, 2, "requests")
    assert (middle.completed, middle.total, middle.snapshot()["current"]) == (2, 4, "idna")
    assert installing.packages == ["requests", "charset-normalizer", "idna", "urllib3", "certifi"]
    assert (installing.snapshot()["phase"], installing.completed, installing.total) == ("installing", 5, 6)
    assert (done.snapshot()["phase"], done.completed, done.total) == ("done", 6, 6)


def test_progress_follows_uv_output() -> None:
    progress = progress_after(["Resolved 7 packages in 1.21s", "Prepared 7 packages in 2.3s"])

    assert (progress.snapshot()["phase"], progress.completed, progress.total) == ("installing", 7, 8)


class RecordingBoard(InstallBoard):
    """An install board that also keeps every install it started, so a test can inspect them after they end."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[InstallProgress] = []

    def start(self, progress: InstallProgress) -> int:
        self.seen.append(progress)
        return super().start(progress)


async def test_real_install_reports_on_board(tmp_path: Path) -> None:
    root = make_code_copy(tmp_path, {"requirements.txt": GOOD_REQUIREMENTS})
    board = RecordingBoard()

    await install_service_requirements(make_service(root, {"greet": "app.greet"}), board=board)

    assert len(board.seen) == 1
    install = board.seen[0].snapshot()
    assert install["requirements"].endswith("requirements.txt")
    assert install["phase"] == "done"
    # The install counts two steps, collecting the one package and then installing it.
    assert install["completed"] == 2
    assert install["total"] == 2
    assert board.snapshot() == []  # finished installs leave the board


class ScriptedClient:
    """A stand-in API client that returns each scripted response in turn, then repeats the last one."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses

    def get_json(self, path: str, params: Any = None) -> dict[str, Any]:
        if len(self.responses) > 1:
            return self.responses.pop(0)
        return self.responses[0]


def test_watcher_draws_a_bar_per_install() -> None:
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=120, color_system=None)
    snapshot = progress_after(PIP_LINES[:6]).snapshot()
    watcher = InstallWatcher(ScriptedClient([{"installs": [snapshot]}]), console, "deploying app", interval_s=60)

    with watcher:
        watcher.draw([snapshot])
        watcher._progress.refresh()
        drawn = output.getvalue()

    assert "deploying app" in drawn
    assert "installing requirements.txt with pip: idna" in drawn
    assert "2/4" in drawn
