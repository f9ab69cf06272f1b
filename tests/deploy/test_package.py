"""Packages for remote deploys: what pack sends and what unpack accepts."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from squall.deploy.package import install, pack, unpack
from squall.errors import DeployError


def archive(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.usefixtures("extraction")
def test_round_trip_skips_tool_folders(tmp_path: Path) -> None:
    folder = tmp_path / "service"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (folder / "squall.yml").write_text("service: s\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")

    unpacked = unpack(pack(folder), tmp_path / "uploads")

    assert sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()) == [
        "squall.yml",
        "src/app.py",
    ]


@pytest.fixture(params=["filters", "no-filters"])
def extraction(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Unpack with tarfile's extraction filters, and as on Python before 3.11.4, which has none."""
    if request.param == "no-filters" and hasattr(tarfile, "data_filter"):
        monkeypatch.delattr(tarfile, "data_filter")
    return str(request.param)


@pytest.mark.usefixtures("extraction")
def test_path_outside_rejected(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as raised:
        unpack(archive([file_member("../escape.py")]), tmp_path / "uploads")

    assert "not a valid .tar.gz" in str(raised.value)
    assert not (tmp_path / "escape.py").exists()
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.usefixtures("extraction")
def test_absolute_path_kept_inside(tmp_path: Path) -> None:
    unpacked = unpack(archive([file_member("/etc/absolute.py")]), tmp_path / "uploads")

    assert (unpacked / "etc" / "absolute.py").is_file()


def test_link_rejected(tmp_path: Path) -> None:
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"

    with pytest.raises(DeployError) as raised:
        unpack(archive([(link, b"")]), tmp_path / "uploads")

    assert "'link', which is not a plain file or folder" in str(raised.value)


def test_not_gzip_rejected(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as raised:
        unpack(b"this is not a package", tmp_path / "uploads")

    assert "not a valid .tar.gz" in str(raised.value)


def test_install_replaces_previous(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    first = unpack(archive([file_member("a.py", b"1")]), uploads)
    install(first, uploads, "svc")
    second = unpack(archive([file_member("b.py", b"2")]), uploads)

    target = install(second, uploads, "svc")

    assert sorted(p.name for p in target.iterdir()) == ["b.py"]
    assert sorted(p.name for p in uploads.iterdir()) == ["svc"]
