"""A handler cannot read the server's data folder where instances have a mount namespace of their own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace per instance needs root")

MANIFEST = """\
service: peek
layers:
  tools: {path: tools}
functions:
  peek:
    handler: app.handler
    layers: [tools]
    events:
      - http: {method: GET, path: /peek}
"""

# The handler finds the data folder from its code folder, DATA/code/DIGEST, and tries what a curious handler would.
HANDLER = """\
import os

import layer_tools


def handler(event, context):
    root = os.environ["LAMBDA_TASK_ROOT"]
    data = os.path.dirname(os.path.dirname(root))
    found = {"listing": sorted(os.listdir(data)), "layer": layer_tools.NAME, "code": sorted(os.listdir(root))}
    for name in ("secret.key", "squall.db", "secrets.db", "token"):
        try:
            with open(os.path.join(data, name), "rb"):
                found[name] = "read"
        except OSError as error:
            found[name] = type(error).__name__
    return found
"""


@pytest.fixture
def data_outside_tmp() -> Iterator[Path]:
    """A data folder outside /tmp: under /tmp, the instance's own /tmp already hides it."""
    folder = Path(tempfile.mkdtemp(prefix="squall-test-", dir="/var/tmp"))
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


def test_data_folder_shows_only_code(serve: Any, tmp_path: Path, data_outside_tmp: Path) -> None:
    app = tmp_path / "peek"
    (app / "tools" / "python").mkdir(parents=True)
    (app / "tools" / "python" / "layer_tools.py").write_text("NAME = 'tools'\n")
    (app / "squall.yml").write_text(MANIFEST)
    (app / "app.py").write_text(HANDLER)
    server = serve(app, "--no-watch", data=data_outside_tmp)

    found = httpx.get(server.endpoint + "/peek", timeout=20).json()

    assert (data_outside_tmp / "secret.key").is_file()
    assert found["listing"] == ["code", "layers"]
    assert found["secret.key"] == "FileNotFoundError"
    assert found["squall.db"] == "FileNotFoundError"
    assert found["secrets.db"] == "FileNotFoundError"
    # The code and the layer it imports from are still there.
    assert "app.py" in found["code"]
    assert found["layer"] == "tools"
