"""Immutable copies of a service's code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from squall.deploy.snapshot import code_digest, code_files, copy_code_digest, is_excluded_file, is_excluded_path, snapshot
from squall.errors import DeployError


def make_service(folder: Path) -> Path:
    (folder / "pkg").mkdir(parents=True)
    (folder / "app.py").write_text("ANSWER = 1\n")
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "squall.yml").write_text("service: s\nfunctions: {}\n")
    for skipped in (".git", "__pycache__", ".venv", "node_modules", ".serverless", ".aws-sam"):
        (folder / skipped).mkdir()
        (folder / skipped / "junk.py").write_text("junk\n")
    (folder / "pkg" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return folder


def source_files(copy: Path) -> list[str]:
    """List a code copy's files, without the bytecode and the records (in .squall) the deploy writes."""
    return sorted(
        path.relative_to(copy).as_posix()
        for path in copy.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".squall" not in path.relative_to(copy).parts
    )


def test_copy_has_bytecode_of_its_modules(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    (folder / "broken.py").write_text("def broken(:\n")

    copy = snapshot(folder, tmp_path / "code")

    # Instances may not write where the code is, so the deploy writes the bytecode.
    compiled = sorted(path.relative_to(copy).as_posix() for path in copy.rglob("*.pyc"))
    assert [name.split(".")[0] for name in compiled] == ["__pycache__/app", "pkg/__pycache__/__init__"]


def test_copy_has_code_without_tool_folders(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")

    copy = snapshot(folder, tmp_path / "code")

    assert source_files(copy) == [
        "app.py",
        "pkg/__init__.py",
        "squall.yml",
    ]
    assert (copy / "app.py").read_text() == "ANSWER = 1\n"


def test_code_digest_skips_manifest(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    first = snapshot(folder, tmp_path / "code", manifest="squall.yml")
    (folder / "squall.yml").write_text("service: svc\nfunctions: {}\n# a comment\n")
    second = snapshot(folder, tmp_path / "code", manifest="squall.yml")
    (folder / "app.py").write_text("ANSWER = 2\n")
    third = snapshot(folder, tmp_path / "code", manifest="squall.yml")

    # Each copy contains its own manifest, but a plan compares the code without it.
    assert first != second
    assert copy_code_digest(first) == copy_code_digest(second)
    assert copy_code_digest(third) != copy_code_digest(second)
    assert code_digest(folder, manifest="squall.yml") == (third.name, {"": copy_code_digest(third)})


def test_code_digest_per_code_folder(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    first = snapshot(folder, tmp_path / "code", manifest="squall.yml", code_dirs=("", "pkg"))
    (folder / "app.py").write_text("ANSWER = 2\n")
    second = snapshot(folder, tmp_path / "code", manifest="squall.yml", code_dirs=("", "pkg"))

    # An edit outside pkg/ leaves the digest of a function whose code is pkg/ as it was.
    assert copy_code_digest(first, "pkg") == copy_code_digest(second, "pkg")
    assert copy_code_digest(first) != copy_code_digest(second)
    assert copy_code_digest(second, "other") == second.name


def test_same_code_same_copy(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")

    first = snapshot(folder, tmp_path / "code")
    second = snapshot(folder, tmp_path / "code")

    assert first == second
    assert len(list((tmp_path / "code").iterdir())) == 1


def test_edit_makes_new_copy_and_keeps_old(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    first = snapshot(folder, tmp_path / "code")

    (folder / "app.py").write_text("ANSWER = 2\n")
    second = snapshot(folder, tmp_path / "code")

    assert second != first
    assert (first / "app.py").read_text() == "ANSWER = 1\n"
    assert (second / "app.py").read_text() == "ANSWER = 2\n"


def test_data_folder_inside_is_skipped(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    data = folder / "state"
    data.mkdir()
    (data / "squall.db").write_text("not code")

    names = [relative for relative, _ in code_files(folder, exclude=data.resolve())]

    assert "state/squall.db" not in names
    assert "app.py" in names


def test_oversized_folder_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_service(tmp_path / "svc")
    monkeypatch.setattr("squall.deploy.snapshot.MAX_SNAPSHOT_BYTES", 10)

    with pytest.raises(DeployError) as raised:
        snapshot(folder, tmp_path / "code")

    assert "over the limit of 10" in str(raised.value)
    assert str(folder) in str(raised.value)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ((), ["README.md", "app.py", "serverless.yml", "src/util.py", "tests/fixtures/keep.json", "tests/test_app.py"]),
        (("!tests/**",), ["README.md", "app.py", "serverless.yml", "src/util.py"]),
        (("!tests/**", "tests/fixtures/**"), ["README.md", "app.py", "serverless.yml", "src/util.py", "tests/fixtures/keep.json"]),
        (("!**/*.md", "!*.py"), ["serverless.yml", "src/util.py", "tests/fixtures/keep.json", "tests/test_app.py"]),
        (("!**",), ["serverless.yml"]),  # The manifest is copied whatever the patterns.
    ],
)
def test_package_patterns_choose_copied_files(tmp_path: Path, patterns: tuple[str, ...], expected: list[str]) -> None:
    folder = tmp_path / "service"
    for name in ("README.md", "app.py", "serverless.yml", "src/util.py", "tests/fixtures/keep.json", "tests/test_app.py"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)

    copy = snapshot(folder, tmp_path / "code", patterns=patterns, keep="serverless.yml")

    assert source_files(copy) == expected


@pytest.mark.parametrize(
    ("name", "excluded"),
    [
        (".app.py.swp", True),
        (".app.py.swo", True),
        (".app.py.swx", True),
        ("app.py___jb_tmp___", True),
        ("app.py___jb_old___", True),
        ("app.py~", True),
        ("#app.py#", True),
        (".#app.py", True),
        ("4913", True),
        (".coverage", True),
        (".coverage.host.123", True),
        ("app.pyc", True),
        ("app.py", False),
        ("swp.py", False),
        (".env", False),
        ("notes#1.txt", False),
    ],
)
def test_editor_and_tool_files_excluded(name: str, excluded: bool) -> None:
    assert is_excluded_file(name) is excluded


@pytest.mark.parametrize(
    ("relative", "excluded"),
    [
        ("src/app.py", False),
        (".idea/workspace.xml", True),
        ("src/.vscode/settings.json", True),
        (".tox/py311/lib/site.py", True),
        ("src/.app.py.swp", True),
        (".idea", True),
    ],
)
def test_excluded_paths(relative: str, excluded: bool) -> None:
    assert is_excluded_path(Path(relative)) is excluded


def test_other_servers_data_folder_left_out(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    (folder / "inner" / "data").mkdir(parents=True)
    for name in ("server.lock", "secret.key", "squall.db"):
        (folder / "inner" / "data" / name).write_text("state")
    (folder / "inner" / "handler.py").write_text("")

    copy = snapshot(folder, tmp_path / "code")

    assert "inner/handler.py" in source_files(copy)
    assert not any(name.startswith("inner/data/") for name in source_files(copy))


def test_symlinked_folder_followed_once(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "shared.py").write_text("VALUE = 1\n")
    (folder / "common").symlink_to(tmp_path / "common")
    (folder / "pkg" / "loop").symlink_to(folder / "pkg")
    (folder / "broken.txt").symlink_to(tmp_path / "nowhere.txt")

    copy = snapshot(folder, tmp_path / "code")

    files = source_files(copy)
    assert "common/shared.py" in files
    assert "broken.txt" not in files
    assert not any(name.startswith("pkg/loop/") for name in files)


def test_undecodable_file_name_rejected(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    (Path(os.fsdecode(bytes(folder) + b"/r\xe9sum\xe9.txt"))).write_text("cv")

    with pytest.raises(DeployError) as raised:
        snapshot(folder, tmp_path / "code")

    assert "is not valid UTF-8" in str(raised.value)
    assert "rename the file" in str(raised.value)


def test_old_copy_gets_code_digests(tmp_path: Path) -> None:
    folder = make_service(tmp_path / "svc")
    copy = snapshot(folder, tmp_path / "code", manifest="squall.yml")
    # As a copy made before copies recorded their digests by code folder.
    (copy / ".squall" / "code-digest").write_text("00adb176fef534a3b0b1\n")
    assert copy_code_digest(copy) == copy.name

    again = snapshot(folder, tmp_path / "code", manifest="squall.yml")

    assert again == copy
    assert copy_code_digest(copy) == code_digest(folder, manifest="squall.yml")[1][""]
