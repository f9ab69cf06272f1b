"""load_service and load_manifest_file: finding the manifest and naming it in errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import MANIFEST_NAMES, load_manifest_file, load_service

WriteService = Callable[..., Path]

SQUALL_TEXT = "service: native\nfunctions:\n  greet: {handler: app.greet}\n"
SERVERLESS_TEXT = (
    "service: imported\nprovider: {name: aws, runtime: python3.12}\n"
    "functions:\n  greet: {handler: app.greet}\n"
)


@pytest.mark.parametrize(
    ("name", "text", "service"),
    [
        ("squall.yml", SQUALL_TEXT, "native"),
        ("squall.yaml", SQUALL_TEXT, "native"),
        ("serverless.yml", SERVERLESS_TEXT, "imported"),
        ("serverless.yaml", SERVERLESS_TEXT, "imported"),
    ],
)
def test_each_manifest_name_is_found(
    write_service: WriteService, name: str, text: str, service: str
) -> None:
    folder = write_service(text, name=name)

    spec = load_service(folder)

    assert spec.service == service
    assert spec.manifest_path == folder.resolve() / name
    assert spec.root == folder.resolve()


def test_squall_yml_wins_over_serverless_yml(write_service: WriteService) -> None:
    write_service(SERVERLESS_TEXT, name="serverless.yml")
    folder = write_service(SQUALL_TEXT, name="squall.yml")

    spec = load_service(folder)

    assert spec.service == "native"
    # A warning, which a deploy prints.
    assert "serverless.yml in the same folder is ignored: squall.yml comes first" in spec.warnings


def test_both_spellings_are_rejected(write_service: WriteService) -> None:
    write_service(SQUALL_TEXT, name="squall.yaml")
    folder = write_service(SQUALL_TEXT, name="squall.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert str(raised.value) == (
        f"{folder}: both squall.yml and squall.yaml exist, expected only one of them"
    )


def test_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as raised:
        load_service(tmp_path)

    error = raised.value
    assert error.path == str(tmp_path)
    assert error.key == ""
    assert error.detail == (
        "no manifest found, looked for squall.yml, squall.yaml, serverless.yml, serverless.yaml, template.yaml, template.yml"
    )
    assert all(name in str(error) for name in MANIFEST_NAMES)


def test_serverless_ts_gets_a_hint(tmp_path: Path) -> None:
    (tmp_path / "serverless.ts").write_text("export default {}\n")

    with pytest.raises(ManifestError) as raised:
        load_service(tmp_path)

    assert "(serverless.ts is not supported, convert it to serverless.yml)" in str(raised.value)


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(ManifestError) as raised:
        load_service(missing)

    assert str(raised.value) == f"{missing}: folder not found"


def test_relative_file_gives_absolute_spec(write_service: WriteService) -> None:
    folder = write_service(SQUALL_TEXT, name="squall.yml")
    service = folder / "svc"
    service.mkdir()
    (folder / "squall.yml").rename(service / "squall.yml")
    (folder / "app.py").rename(service / "app.py")

    spec = load_manifest_file(Path("svc/squall.yml"))

    assert spec.root == service.resolve()
    assert spec.root.is_absolute()
    assert spec.manifest_path == service.resolve() / "squall.yml"


def test_relative_file_named_as_given_in_errors(write_service: WriteService) -> None:
    folder = write_service(
        "service: hello\nfunctions:\n  greet: {handler: app.greet, timeout_s: 0}\n"
    )
    (folder / "svc").mkdir()
    (folder / "squall.yml").rename(folder / "svc" / "squall.yml")
    (folder / "app.py").rename(folder / "svc" / "app.py")

    with pytest.raises(ManifestError) as raised:
        load_manifest_file(Path("svc/squall.yml"))

    assert str(raised.value) == (
        "svc/squall.yml: functions.greet.timeout_s: expected whole seconds between 1 and 900, got 0"
    )


@pytest.mark.parametrize(
    ("name", "text", "service"),
    [
        ("serverless.prod.yml", SERVERLESS_TEXT, "imported"),
        ("hello.yml", SQUALL_TEXT, "native"),
    ],
)
def test_other_file_names_choose_format(
    write_service: WriteService, name: str, text: str, service: str
) -> None:
    folder = write_service(text, name=name)

    assert load_manifest_file(folder / name).service == service


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as raised:
        load_manifest_file(tmp_path / "squall.yml")

    assert str(raised.value) == f"{tmp_path / 'squall.yml'}: file not found"


def test_folder_given_as_file(tmp_path: Path) -> None:
    (tmp_path / "squall.yml").mkdir()

    with pytest.raises(ManifestError) as raised:
        load_manifest_file(tmp_path / "squall.yml")

    assert raised.value.detail == "is a folder, expected a manifest file"


def test_file_not_utf8(write_service: WriteService) -> None:
    folder = write_service(SQUALL_TEXT)
    (folder / "squall.yml").write_bytes(b"service: \xc3\x28\n")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert str(raised.value).startswith("squall.yml: invalid text at byte 10: ")
    assert str(raised.value).endswith(", expected UTF-8 or UTF-16")
