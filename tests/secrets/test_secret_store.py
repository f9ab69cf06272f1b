"""The secret store: encryption at rest, the key and its file, and wrong keys."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from squall.secrets import InvalidSecretName, InvalidSecretValue, SecretKeyError, SecretNotFound
from squall.secrets.crypto import KEY_ENVIRONMENT_VARIABLE, load_key
from squall.secrets.store import SecretStore, open_secret_store

VALUE = "correct horse battery staple"


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    opened = open_secret_store(tmp_path, environ={})
    yield opened
    opened.close()


def test_round_trip(store: SecretStore) -> None:
    info, created = store.set("DB_PASSWORD", VALUE)

    assert created
    assert info.name == "DB_PASSWORD"
    assert store.get("DB_PASSWORD") == VALUE


def test_replace_keeps_created_time(store: SecretStore) -> None:
    first, _ = store.set("api/token", "one")
    second, created = store.set("api/token", "two")

    assert not created
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert store.get("api/token") == "two"


def test_round_trip_survives_reopening(tmp_path: Path) -> None:
    open_secret_store(tmp_path, environ={}).set("DB_PASSWORD", VALUE)

    reopened = open_secret_store(tmp_path, environ={})

    assert reopened.get("DB_PASSWORD") == VALUE


def test_missing_secret_reads_none(store: SecretStore) -> None:
    assert store.get("NOPE") is None


def test_delete_then_missing(store: SecretStore) -> None:
    store.set("DB_PASSWORD", VALUE)

    store.delete("DB_PASSWORD")

    assert store.get("DB_PASSWORD") is None
    with pytest.raises(SecretNotFound, match="DB_PASSWORD"):
        store.delete("DB_PASSWORD")


def test_list_shows_names_only(store: SecretStore) -> None:
    store.set("b", "value-b")
    store.set("a", "value-a")

    listed = store.list()

    assert [info.name for info in listed] == ["a", "b"]
    assert "value" not in repr(listed)


def test_database_holds_no_plaintext(tmp_path: Path) -> None:
    store = open_secret_store(tmp_path, environ={})
    store.set("DB_PASSWORD", VALUE)
    store.close()

    for path in tmp_path.iterdir():
        assert VALUE.encode() not in path.read_bytes(), path.name


def test_key_file_is_owner_only(tmp_path: Path) -> None:
    open_secret_store(tmp_path, environ={}).close()

    key_mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    database_mode = stat.S_IMODE((tmp_path / "secrets.db").stat().st_mode)

    assert key_mode == 0o600
    assert database_mode == 0o600
    assert len(base64.b64decode((tmp_path / "secret.key").read_text())) == 32


def test_key_file_is_kept_across_loads(tmp_path: Path) -> None:
    first = load_key(tmp_path, environ={})
    second = load_key(tmp_path, environ={})

    assert first.material == second.material


def test_key_file_readable_by_others_is_rejected(tmp_path: Path) -> None:
    load_key(tmp_path, environ={})
    (tmp_path / "secret.key").chmod(0o644)

    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_key(tmp_path, environ={})


def test_environment_key_wins_over_file(tmp_path: Path) -> None:
    key = random_key()

    loaded = load_key(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: key})

    assert loaded.material == base64.b64decode(key)
    assert KEY_ENVIRONMENT_VARIABLE in loaded.source
    assert not (tmp_path / "secret.key").exists()


def test_environment_key_in_url_safe_alphabet(tmp_path: Path) -> None:
    material = b"\xfb\xff" * 16  # encodes to "+" and "/" in the standard alphabet

    loaded = load_key(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: base64.urlsafe_b64encode(material).decode()})

    assert loaded.material == material


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("", "an empty value"),
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"short").decode(), "got 5 bytes"),
    ],
)
def test_malformed_environment_key(tmp_path: Path, text: str, described: str) -> None:
    with pytest.raises(SecretKeyError, match=described) as raised:
        load_key(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: text})

    assert KEY_ENVIRONMENT_VARIABLE in str(raised.value)


def test_wrong_key_is_a_clear_error(tmp_path: Path) -> None:
    open_secret_store(tmp_path, environ={}).set("DB_PASSWORD", VALUE)

    with pytest.raises(SecretKeyError) as raised:
        open_secret_store(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: random_key()})

    message = str(raised.value)
    assert "another key" in message
    assert KEY_ENVIRONMENT_VARIABLE in message
    assert "secrets.db" in message


def test_wrong_key_without_secrets_is_still_detected(tmp_path: Path) -> None:
    open_secret_store(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: random_key()}).close()

    with pytest.raises(SecretKeyError, match="another key"):
        open_secret_store(tmp_path, environ={KEY_ENVIRONMENT_VARIABLE: random_key()})


def test_value_moved_to_another_name_does_not_decrypt(store: SecretStore) -> None:
    store.set("DB_PASSWORD", VALUE)
    store.set("OTHER", "other value")
    with sqlite3.connect(store.path) as db:
        db.execute(
            "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'DB_PASSWORD'), "
            "ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'DB_PASSWORD') WHERE name = 'OTHER'"
        )

    with pytest.raises(SecretKeyError, match="'OTHER'") as raised:
        store.get("OTHER")

    assert VALUE not in str(raised.value)


@pytest.mark.parametrize("name", ["", "has space", "x" * 129, "dollar$", "brace}", "dot.name", "ünïcode"])
def test_invalid_name_is_rejected(store: SecretStore, name: str) -> None:
    with pytest.raises(InvalidSecretName, match="1 to 128 letters"):
        store.set(name, VALUE)


@pytest.mark.parametrize("name", ["a", "DB_PASSWORD", "prod/db-password", "x" * 128, "0"])
def test_valid_name_is_accepted(store: SecretStore, name: str) -> None:
    store.set(name, VALUE)

    assert store.get(name) == VALUE


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", "empty"), ("a\x00b", "NUL"), ("x" * 65537, "exceeds the limit of 65536 bytes"), (42, "expected text")],
)
def test_invalid_value_is_rejected(store: SecretStore, value: object, reason: str) -> None:
    with pytest.raises(InvalidSecretValue, match=reason):
        store.set("DB_PASSWORD", value)  # type: ignore[arg-type]
