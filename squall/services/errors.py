"""Errors the data services raise, shared by the SDK, the CLI and the HTTP API.

Each class carries a stable `code` (the error code AWS uses for the same case
where there is one, so users can search for it) and the HTTP `status` the
management API responds with. Messages name the resource, the bad value and
what would be valid.
"""

from __future__ import annotations

from squall.errors import SquallError


class ServiceError(SquallError):
    """Root of the errors a data service raises on purpose."""

    code = "ServiceError"
    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InvalidParameter(ServiceError):
    """Raised when a request contains an invalid value: a bad name, key, size, expression or option."""

    code = "InvalidParameterValue"


class ResourceNotFound(ServiceError):
    """Raised when a request names a queue, bucket, table, stream or item that does not exist."""

    code = "ResourceNotFoundException"
    status = 404


class ResourceExists(ServiceError):
    """Raised when a create request names a resource that exists with other settings."""

    code = "ResourceInUseException"
    status = 409


class ConditionFailed(ServiceError):
    """Raised when a write's condition does not hold for the stored item or object."""

    code = "ConditionalCheckFailedException"
    status = 409


class LimitExceeded(ServiceError):
    """Raised when a message, item, object or batch is over its size or count limit."""

    code = "LimitExceeded"
    status = 413


class StorageFull(ServiceError):
    """Raised when the disk under the data folder has no room for a write; nothing is accepted."""

    code = "StorageFull"
    status = 507
