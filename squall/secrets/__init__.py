"""Secrets: values encrypted at rest, referenced from environments as `${secret:NAME}`.

`store` keeps them in DATA/secrets.db, `crypto` holds the key and the
cipher, and `references` finds and resolves references without either. This
package imports only the last, so that manifest readers and the dispatcher
do not load the cryptography library; import the store from `squall.secrets.store`.
"""

from __future__ import annotations

from squall.secrets.errors import (
    InvalidSecretName,
    InvalidSecretValue,
    SecretError,
    SecretInUse,
    SecretKeyError,
    SecretNotFound,
)
from squall.secrets.references import (
    SECRET_NAME_RULE,
    SecretLookup,
    check_secret_name,
    check_secret_value,
    environment_references,
    referenced_names,
    resolve_environment,
)

__all__ = [
    "SECRET_NAME_RULE",
    "InvalidSecretName",
    "InvalidSecretValue",
    "SecretError",
    "SecretInUse",
    "SecretKeyError",
    "SecretLookup",
    "SecretNotFound",
    "check_secret_name",
    "check_secret_value",
    "environment_references",
    "referenced_names",
    "resolve_environment",
]
