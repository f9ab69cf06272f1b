"""`${secret:NAME}` references: finding, resolving, and checking them in squall.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.secrets import InvalidSecretName, SecretNotFound, referenced_names, resolve_environment

SECRETS = {"DB_PASSWORD": "s3cr3t-value", "api/token": "tok-123", "LOOP": "${secret:DB_PASSWORD}"}


class DictSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


@pytest.mark.parametrize(
    ("value", "resolved"),
    [
        ("${secret:DB_PASSWORD}", "s3cr3t-value"),
        ("postgres://app:${secret:DB_PASSWORD}@db/app", "postgres://app:s3cr3t-value@db/app"),
        ("${secret:DB_PASSWORD}:${secret:api/token}:${secret:DB_PASSWORD}", "s3cr3t-value:tok-123:s3cr3t-value"),
        ("no reference", "no reference"),
        ("${env:HOME} stays", "${env:HOME} stays"),
        ("${secret:LOOP}", "${secret:DB_PASSWORD}"),  # a value is never expanded again
    ],
)
def test_resolve_value(value: str, resolved: str) -> None:
    environment = resolve_environment("api", {"VARIABLE": value}, DictSecrets(SECRETS))

    assert environment == {"VARIABLE": resolved}


def test_resolve_leaves_input_unchanged() -> None:
    original = {"DB": "${secret:DB_PASSWORD}"}

    resolve_environment("api", original, DictSecrets(SECRETS))

    assert original == {"DB": "${secret:DB_PASSWORD}"}


def test_unknown_secret_names_function_variable_and_secret() -> None:
    with pytest.raises(SecretNotFound) as raised:
        resolve_environment("api", {"DB": "${secret:DB_PASSWORD}", "KEY": "${secret:MISSING}"}, DictSecrets(SECRETS))

    message = str(raised.value)
    assert "'MISSING'" in message
    assert "'api'" in message
    assert "KEY" in message
    assert "squall secret set MISSING" in message
    assert "s3cr3t-value" not in message


def test_reference_without_store_is_an_error() -> None:
    with pytest.raises(SecretNotFound, match="no secret store"):
        resolve_environment("api", {"DB": "${secret:DB_PASSWORD}"}, None)


def test_environment_without_references_needs_no_store() -> None:
    assert resolve_environment("api", {"PLAIN": "1"}, None) == {"PLAIN": "1"}


@pytest.mark.parametrize("value", ["${secret:}", "${secret:has space}", "${secret:a.b}", "x${secret:" + "n" * 129 + "}"])
def test_bad_reference_name(value: str) -> None:
    with pytest.raises(InvalidSecretName):
        referenced_names(value)


def write_service(folder: Path, value: str) -> Path:
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (folder / "squall.yml").write_text(
        "service: vault\n"
        "functions:\n"
        "  api:\n"
        "    handler: app.handler\n"
        f"    environment: {{DB: '{value}'}}\n"
    )
    return folder


def test_manifest_keeps_reference_unresolved(tmp_path: Path) -> None:
    service = load_service(write_service(tmp_path, "${secret:prod/db}"))

    assert service.functions["api"].environment == {"DB": "${secret:prod/db}"}


def test_manifest_rejects_bad_reference_name(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as raised:
        load_service(write_service(tmp_path, "${secret:bad name}"))

    error = raised.value
    assert error.key == "functions.api.environment.DB"
    assert '"bad name"' in error.detail
    assert "1 to 128 letters" in error.detail
