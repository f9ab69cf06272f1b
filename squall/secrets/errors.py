"""Errors of the secret store. None of their messages contains a secret's value."""

from __future__ import annotations

from squall.errors import SquallError


class SecretError(SquallError):
    """Root of the errors about secrets."""


class InvalidSecretName(SecretError):
    """Raised when a secret name is empty, too long, or contains characters outside the allowed set."""

    def __init__(self, name: object, rule: str) -> None:
        self.name = name
        super().__init__(f"invalid secret name {name!r}: expected {rule}")


class InvalidSecretValue(SecretError):
    """Raised when a value cannot become an environment variable: empty, too large, not text, or with a NUL."""


class SecretNotFound(SecretError):
    """Raised when a secret that is read, deleted or referenced does not exist."""

    def __init__(self, name: str, message: str | None = None) -> None:
        self.name = name
        super().__init__(message or f"secret not found: {name!r}")


class SecretInUse(SecretError):
    """Raised when deleting a secret that deployed functions or their published versions still reference."""

    def __init__(self, name: str, functions: list[str], versions: list[str] | None = None) -> None:
        self.name = name
        self.functions = functions
        self.versions = versions or []
        reasons = []
        if functions:
            reasons.append(
                f"it is referenced by deployed functions {', '.join(functions)}: "
                "remove the references and deploy their services, then delete the secret"
            )
        if self.versions:
            reasons.append(
                f"published versions {', '.join(self.versions)} reference it and keep their environment "
                "as long as they exist, which is until `squall remove` removes their service"
            )
        super().__init__(f"secret {name!r} cannot be deleted: " + "; ".join(reasons))


class SecretKeyError(SecretError):
    """Raised when the encryption key is malformed, unreadable, or not the key the store was encrypted with."""
