"""Code.Location download URLs: their signature, expiry and the zip file they return."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from squall.gateway import code_download

SCOPE = {"scheme": "http", "headers": [(b"host", b"127.0.0.1:8123")], "server": ("127.0.0.1", 8123)}


def split(url: str) -> tuple[str, bytes]:
    parts = urlsplit(url)
    return parts.path, parts.query.encode()


def test_location_names_request_host() -> None:
    url = code_download.location(SCOPE, "greet", "$LATEST", now=1000.0)

    assert url.startswith("http://127.0.0.1:8123/_squall/code/greet/%24LATEST.zip?Expires=1600&Signature=")
    assert code_download.target(urlsplit(url).path) == ("greet", "$LATEST")


def test_signature_valid_until_expiry() -> None:
    path, query = split(code_download.location(SCOPE, "greet", "3", now=1000.0))

    assert code_download.signature_valid(path, query, now=1599.0)
    assert not code_download.signature_valid(path, query, now=1601.0)


def test_signature_binds_function_and_version() -> None:
    path, query = split(code_download.location(SCOPE, "greet", "3", now=1000.0))

    assert not code_download.signature_valid(path.replace("/greet/", "/other/"), query, now=1001.0)
    assert not code_download.signature_valid(path.replace("/3.zip", "/4.zip"), query, now=1001.0)
    assert not code_download.signature_valid(path, query.replace(b"Expires=1600", b"Expires=9999"), now=1001.0)


def test_package_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")

    first = code_download.package(tmp_path)
    second = code_download.package(tmp_path)

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["app.py", "lib/util.py"]
        assert archive.read("lib/util.py") == b"X = 1\n"
