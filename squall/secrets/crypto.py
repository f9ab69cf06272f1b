"""The key that encrypts secrets at rest, and AES-256-GCM encryption with it.

The key never lives in the database it protects: it comes from the
SQUALL_SECRET_KEY environment variable when that is set, else from the file
DATA/secret.key, which is created with owner-only permissions on first use.
Each value is encrypted with a fresh 96-bit nonce, and the secret's name is
authenticated with it, so a value copied onto another name fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from squall.secrets.errors import SecretKeyError

logger = logging.getLogger(__name__)

KEY_ENVIRONMENT_VARIABLE = "SQUALL_SECRET_KEY"
KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the nonce size GCM is specified for
KEY_HELP = "32 random bytes in base64, such as the output of `openssl rand -base64 32`"


@dataclass(frozen=True)
class SecretKey:
    """An AES-256 key and where it came from, for error messages."""

    material: bytes = field(repr=False)
    source: str  # "the SQUALL_SECRET_KEY environment variable" or "the key file PATH"


def parse_key(text: str, source: str) -> SecretKey:
    """Decode a base64 key (standard or URL-safe alphabet), raising SecretKeyError unless it is 32 bytes."""
    # The URL-safe alphabet differs only in two characters, so both decode as standard base64.
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        material = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        material = b""
    if len(material) == KEY_BYTES:
        return SecretKey(material, source)
    # The message gives the decoded length at most: a key that is nearly right is still a secret.
    if not cleaned:
        got = "an empty value"
    elif material:
        got = f"{len(material)} bytes"
    else:
        got = "text that is not base64"
    raise SecretKeyError(f"invalid secret key in {source}: expected {KEY_HELP}, got {got}")


def load_key(data_dir: Path, environ: Mapping[str, str] | None = None) -> SecretKey:
    """Return the key from SQUALL_SECRET_KEY when set, else from DATA/secret.key, creating that file on first use."""
    environ = os.environ if environ is None else environ
    text = environ.get(KEY_ENVIRONMENT_VARIABLE)
    if text is not None:
        return parse_key(text, f"the {KEY_ENVIRONMENT_VARIABLE} environment variable")

    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    """Write a new random key to `path` with mode 0600, unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n"

    # Write a private temporary file and link it into place, so that no
    # reader ever sees a half-written key and two first uses agree on one key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        logger.info("created the secret key file %s", path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_key_file(path: Path) -> SecretKey:
    source = f"the key file {path}"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"cannot read {source}: {error}") from None
    if mode & 0o077:
        raise SecretKeyError(
            f"{source} is readable or writable by other users (mode {mode:04o}): "
            f"run `chmod 600 {path}` to keep it owner-only"
        )
    return parse_key(text, source)


class Cipher:
    """An AES-GCM cipher with one key, which binds each value to a context such as the secret's name."""

    def __init__(self, key: SecretKey) -> None:
        self.key_source = key.source
        self._aead = AESGCM(key.material)

    def encrypt(self, context: str, plaintext: bytes) -> tuple[bytes, bytes]:
        """Return (nonce, ciphertext with its tag)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, plaintext, context.encode("utf-8"))

    def decrypt(self, context: str, nonce: bytes, ciphertext: bytes) -> bytes | None:
        """Return the plaintext, or None when the key, the context or the data do not match."""
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode("utf-8"))
        except InvalidTag:
            return None
