"""Warnings for Poetry, PEP 621 and Pipenv files whose dependencies Squall would not install."""

from __future__ import annotations

from pathlib import Path

from squall.deploy.requirements import unread_dependency_warnings

POETRY = '[tool.poetry]\nname = "shop"\n[tool.poetry.dependencies]\npython = "^3.11"\nrequests = "^2.31"\n'
POETRY_PYTHON_ONLY = '[tool.poetry.dependencies]\npython = "^3.11"\n'
PROJECT = '[project]\nname = "shop"\ndependencies = ["requests>=2"]\n'
PIPFILE = '[packages]\nrequests = "*"\n'


def test_poetry_without_requirements_warned(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(POETRY)

    warnings = unread_dependency_warnings(tmp_path, {"api": ("app.handler", ""), "worker": ("jobs/run.handler", "")})

    assert warnings == [
        "pyproject.toml: declares dependencies, but Squall installs only requirements.txt, so api, worker would run "
        "without them installed (an import of one fails, or finds the copy in Squall's own environment); export them "
        "next to it (`poetry export -o requirements.txt`)"
    ]


def test_pipfile_in_code_folder_warned(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Pipfile").write_text(PIPFILE)

    warnings = unread_dependency_warnings(tmp_path, {"api": ("app.handler", "src")})

    assert len(warnings) == 1
    assert warnings[0].startswith("src/Pipfile: declares dependencies")
    assert "`pipenv requirements > requirements.txt`" in warnings[0]


def test_no_warning_when_covered(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text(POETRY_PYTHON_ONLY)

    assert unread_dependency_warnings(tmp_path, {"api": ("app.handler", ""), "other": ("app.handler", "other")}) == []


def test_pep_621_export_command(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)

    warnings = unread_dependency_warnings(tmp_path, {"api": ("app.handler", "")})

    assert warnings[0].endswith("(`uv pip compile pyproject.toml -o requirements.txt`)")
