"""Helpers that write a service folder (manifest plus handler files) to disk."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WriteService = Callable[..., Path]


@pytest.fixture
def write_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteService:
    """Return a function that writes a service folder and makes it the working folder.

    The manifest text is dedented. Each name in `modules` becomes an empty
    handler file such as "app.py" or "src/items.py". Working in the folder
    lets messages name the manifest as a user would ("squall.yml").
    """
    monkeypatch.chdir(tmp_path)

    def write(
        manifest: str,
        name: str = "squall.yml",
        modules: tuple[str, ...] = ("app.py",),
    ) -> Path:
        (tmp_path / name).write_text(textwrap.dedent(manifest), encoding="utf-8")
        for module in modules:
            module_path = tmp_path / module
            module_path.parent.mkdir(parents=True, exist_ok=True)
            module_path.write_text("def greet(event, context):\n    return 'hi'\n")
        return tmp_path

    return write
