"""Secret names and `${secret:NAME}` references in environment values.

This module imports no cryptography, so that manifest readers and the
dispatcher can check and resolve references without loading the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from squall.secrets.errors import InvalidSecretName, InvalidSecretValue, SecretNotFound

SECRET_NAME_PATTERN = r"^[A-Za-z0-9_/-]{1,128}$"
SECRET_NAME_RULE = "1 to 128 letters, digits, '_', '-' or '/'"
_SECRET_NAME_RE = re.compile(SECRET_NAME_PATTERN)

# Everything up to the closing brace is taken as the name, so that a bad name
# is reported as such instead of leaving the text unresolved.
REFERENCE_RE = re.compile(r"\$\{secret:([^}]*)\}")


class SecretLookup(Protocol):
    """Read access to a secret store: a secret's value, or None when it does not exist."""

    def get(self, name: str) -> str | None: ...


def check_secret_name(name: object) -> str:
    """Return `name` when it is a valid secret name, else raise InvalidSecretName."""
    if not isinstance(name, str) or not _SECRET_NAME_RE.match(name):
        raise InvalidSecretName(name, SECRET_NAME_RULE)
    return name


def referenced_names(value: str) -> list[str]:
    """Return the secret names `value` references, in order, each once; raise InvalidSecretName for a bad one."""
    names: list[str] = []
    for match in REFERENCE_RE.finditer(value):
        name = check_secret_name(match.group(1))
        if name not in names:
            names.append(name)
    return names


def environment_references(environment: Mapping[str, str]) -> set[str]:
    """Return every secret name referenced by the values of an environment."""
    return {name for value in environment.values() for name in referenced_names(value)}


def resolve_environment(
    function: str, environment: Mapping[str, str], secrets: SecretLookup | None
) -> dict[str, str]:
    """Return a copy of `environment` with each `${secret:NAME}` replaced by the secret's value.

    Raises SecretNotFound naming the function, the variable and the secret
    when a referenced secret does not exist, or when there is no store.
    """
    resolved: dict[str, str] = {}
    for variable, value in environment.items():
        names = referenced_names(value)
        if not names:
            resolved[variable] = value
            continue

        values: dict[str, str] = {}
        for name in names:
            secret = secrets.get(name) if secrets is not None else None
            if secret is None:
                where = "which does not exist" if secrets is not None else "but this server has no secret store"
                raise SecretNotFound(
                    name,
                    f"function {function!r}: environment variable {variable} references secret {name!r}, "
                    f"{where}; create it with `squall secret set {name}` (add `--local --data DATA` while no server runs)",
                )
            values[name] = secret
        # One pass over the original text, so a secret value that itself
        # contains "${secret:...}" is not expanded again.
        resolved[variable] = REFERENCE_RE.sub(lambda match: values[match.group(1)], value)
    return resolved


# Secrets Manager's limit on a SecretString. Together with the other
# variables a value must still fit the operating system's argument and
# environment size limit when the zygote starts.
MAX_SECRET_VALUE_BYTES = 65536


def check_secret_value(value: object) -> str:
    """Return `value` when it can be an environment variable's value, else raise InvalidSecretValue.

    The message describes the value by its size only, never by its content.
    """
    if not isinstance(value, str):
        raise InvalidSecretValue(f"invalid secret value: expected text, got {type(value).__name__}")
    if not value:
        raise InvalidSecretValue("invalid secret value: expected at least one character, got an empty value")
    if "\x00" in value:
        raise InvalidSecretValue("invalid secret value: an environment variable cannot contain a NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSecretValue("invalid secret value: expected valid Unicode text") from None
    if size > MAX_SECRET_VALUE_BYTES:
        raise InvalidSecretValue(
            f"invalid secret value: {size} bytes exceeds the limit of {MAX_SECRET_VALUE_BYTES} bytes"
        )
    return value
