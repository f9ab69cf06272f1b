"""A handler context built in the test process, and a mobile client for its client context."""

from __future__ import annotations

from typing import Any

from squall.runtime.context import LambdaContext

MOBILE_CLIENT = {
    "installation_id": "install-1",
    "app_title": "Field Notes",
    "app_version_name": "2.1",
    "app_version_code": "21",
    "app_package_name": "org.example.notes",
}


def make_context(**options: Any) -> LambdaContext:
    """Build the context of a $LATEST invocation of the function "notes"; `options` add or replace arguments."""
    arguments: dict[str, Any] = {
        "request_id": "0f3c1b9e-6a51-4d0e-9d43-0b9b8a8f2a10",
        "function_name": "notes",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:notes",
        "memory_limit_in_mb": "128",
        "log_group_name": "/aws/lambda/notes",
        "log_stream_name": "2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "deadline_ms": 0,
    }
    return LambdaContext(**{**arguments, **options})
