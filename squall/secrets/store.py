"""The secret store: names and AES-GCM-encrypted values in DATA/secrets.db (SQLite).

Only ciphertext reaches the database. The key check row, written on first
use, lets the store tell a wrong key from damaged data before any secret is
read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from squall.secrets.crypto import KEY_ENVIRONMENT_VARIABLE, KEY_FILE_NAME, NONCE_BYTES, Cipher, SecretKey, load_key
from squall.secrets.errors import SecretKeyError, SecretNotFound
from squall.secrets.references import check_secret_name, check_secret_value

logger = logging.getLogger(__name__)

DATABASE_FILE_NAME = "secrets.db"
_KEY_CHECK_CONTEXT = "squall/key-check"
_KEY_CHECK_PLAINTEXT = b"squall secret store"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class SecretInfo:
    """The public part of a secret: its name and times (seconds since the epoch), without its value."""

    name: str
    created_at: float
    updated_at: float


class SecretStore:
    """Encrypted secrets in one SQLite file; safe to call from several threads.

    Raises SecretKeyError on construction when `key` is not the key the
    file's secrets were encrypted with.
    """

    def __init__(self, path: Path, key: SecretKey) -> None:
        self.path = path
        self._cipher = Cipher(key)
        self._lock = threading.Lock()
        _create_private_file(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._check_key()
        except BaseException:
            self._db.close()
            raise

    def _check_key(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        if row is None:
            nonce, ciphertext = self._cipher.encrypt(_KEY_CHECK_CONTEXT, _KEY_CHECK_PLAINTEXT)
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('key_check', ?)", (nonce + ciphertext,))
            row = self._db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        blob: bytes = row[0]
        if self._cipher.decrypt(_KEY_CHECK_CONTEXT, blob[:NONCE_BYTES], blob[NONCE_BYTES:]) != _KEY_CHECK_PLAINTEXT:
            raise SecretKeyError(
                f"the secret key from {self._cipher.key_source} cannot decrypt {self.path}: its secrets were "
                f"encrypted with another key. Use that key: {KEY_ENVIRONMENT_VARIABLE} takes precedence over "
                f"the data folder's {KEY_FILE_NAME} when set"
            )

    def set(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create or replace a secret; return its description and whether it was created."""
        check_secret_name(name)
        check_secret_value(value)
        nonce, ciphertext = self._cipher.encrypt(_context(name), value.encode("utf-8"))
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT created_at FROM secrets WHERE name = ?", (name,)).fetchone()
                self._db.execute(
                    "INSERT INTO secrets (name, nonce, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
                    "updated_at = excluded.updated_at",
                    (name, nonce, ciphertext, now, now),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        created_at = now if row is None else row[0]
        return SecretInfo(name, created_at, now), row is None

    def get(self, name: str) -> str | None:
        """Return a secret's value, or None when it does not exist.

        Raises SecretKeyError when the stored value does not decrypt, which
        means the row was altered or copied from another store.
        """
        check_secret_name(name)
        with self._lock:
            row = self._db.execute("SELECT nonce, ciphertext FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        plaintext = self._cipher.decrypt(_context(name), row[0], row[1])
        if plaintext is None:
            raise SecretKeyError(
                f"secret {name!r} in {self.path} does not decrypt with the key from {self._cipher.key_source}: "
                f"the stored value was altered or copied from another store; set it again with `squall secret set {name}`"
            )
        return plaintext.decode("utf-8")

    def delete(self, name: str) -> None:
        """Delete a secret; raise SecretNotFound when it does not exist."""
        check_secret_name(name)
        with self._lock:
            deleted = self._db.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise SecretNotFound(name)

    def list(self) -> list[SecretInfo]:
        """Describe every secret, sorted by name."""
        with self._lock:
            rows = self._db.execute("SELECT name, created_at, updated_at FROM secrets ORDER BY name").fetchall()
        return [SecretInfo(name, created_at, updated_at) for name, created_at, updated_at in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_secret_store(data_dir: Path, environ: Mapping[str, str] | None = None) -> SecretStore:
    """Open DATA/secrets.db with the key from SQUALL_SECRET_KEY or DATA/secret.key.

    Raises SecretKeyError when the key is malformed, its file is not
    owner-only, or it is not the key the database was encrypted with.
    """
    return SecretStore(data_dir / DATABASE_FILE_NAME, load_key(data_dir, environ))


def _context(name: str) -> str:
    return f"squall/secret/{name}"


def _create_private_file(path: Path) -> None:
    # SQLite gives its -wal and -shm files the database file's permissions,
    # so creating it owner-only keeps all three private.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
