"""Errors Squall raises to its users.

Every class derives from `SquallError`, and every message names the thing
that failed, the bad value, and what would be valid.
"""

from __future__ import annotations


class SquallError(Exception):
    """Root of every error Squall raises on purpose."""


class ManifestError(SquallError):
    """Raised when a manifest cannot be read or contains an invalid value.

    `path` is the manifest file and `key` the dotted key path of the bad value
    (empty when the whole file is at fault).
    """

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.detail = message
        where = f"{path}: {key}: " if key else f"{path}: "
        super().__init__(where + message)


class FunctionNotFound(SquallError):
    """Raised when an invocation names a function that is not deployed."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"function not found: {name!r}")


class Throttled(SquallError):
    """Raised when a function is at its concurrency cap and its queue is full.

    `node_limit` is true when the cap was the node's memory budget rather
    than the function's own reserved concurrency.
    """

    def __init__(self, name: str, reason: str, node_limit: bool = False) -> None:
        self.name = name
        self.reason = reason
        self.node_limit = node_limit
        super().__init__(f"function {name!r} is throttled: {reason}")


class PayloadTooLarge(SquallError):
    """Raised when a request payload exceeds the invocation limit."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"payload of {size} bytes exceeds the limit of {limit} bytes")


class DeployError(SquallError):
    """Raised when a service cannot be deployed for a reason other than its manifest."""
