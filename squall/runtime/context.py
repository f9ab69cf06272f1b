"""The `context` object handed to a handler, with the attributes Lambda's has."""

from __future__ import annotations

import sys
import time
from typing import Any


class MobileClient:
    """The app that sent an invocation, as the `client` object of its client context describes it."""

    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data: dict[str, Any]) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")

    def __repr__(self) -> str:
        return f"MobileClient(installation_id={self.installation_id!r}, app_title={self.app_title!r})"


class ClientContext:
    """Mobile client context sent with an invocation (`X-Amz-Client-Context`).

    `client` is None when the context has no `client` object, and `custom`
    and `env` are None when their keys are missing, as in Lambda's Python
    runtime.
    """

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, Any]) -> None:
        client = data.get("client")
        self.client = MobileClient(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")

    def __repr__(self) -> str:
        return f"ClientContext(client={self.client!r}, custom={self.custom!r}, env={self.env!r})"


class CognitoIdentity:
    """The Amazon Cognito identity that authorised an invocation, with both fields None when there is none."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        fields = data if isinstance(data, dict) else {}
        self.cognito_identity_id = fields.get("cognito_identity_id")
        self.cognito_identity_pool_id = fields.get("cognito_identity_pool_id")

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity(cognito_identity_id={self.cognito_identity_id!r}, "
            f"cognito_identity_pool_id={self.cognito_identity_pool_id!r})"
        )


class LambdaContext:
    """Invocation context with Lambda's attribute names.

    `memory_limit_in_mb` is a string, as in AWS's Python runtime, which
    reads it from the environment. `identity` is always an object, and
    `client_context` is None unless the caller sent one. On Lambda,
    `tenant_id` names the tenant of the invocation when the function has
    tenant isolation on. Squall has no tenant isolation, so it is None.
    """

    __slots__ = (
        "aws_request_id",
        "function_name",
        "function_version",
        "invoked_function_arn",
        "memory_limit_in_mb",
        "log_group_name",
        "log_stream_name",
        "identity",
        "client_context",
        "tenant_id",
        "_deadline_ms",
    )

    def __init__(
        self,
        *,
        request_id: str,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: str,
        log_group_name: str,
        log_stream_name: str,
        deadline_ms: int,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = CognitoIdentity(cognito_identity)
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Return the milliseconds left before the invocation times out."""
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg: Any) -> None:
        """Write `str(msg)` to the function's log, as `print` would but without adding a newline.

        The parameter keeps the name it has in Lambda's runtime, for calls that pass it by keyword.
        """
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
            f"function_name={self.function_name!r}, function_version={self.function_version!r})"
        )
