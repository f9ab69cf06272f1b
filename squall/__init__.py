"""Squall: a self-hosted serverless platform for Python functions.

The SDK's classes are importable from here, loaded on first use so that
importing `squall` (as every instance does) stays cheap:

    from squall import Queue, Bucket, Table, Stream
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Name -> module of the SDK names `from squall import NAME` provides.
_SDK_NAMES = {
    "Client": "squall.sdk.client",
    "RemoteError": "squall.sdk.client",
    "Queue": "squall.sdk.queues",
    "create_queue": "squall.sdk.queues",
    "list_queues": "squall.sdk.queues",
    "Bucket": "squall.sdk.objects",
    "create_bucket": "squall.sdk.objects",
    "list_buckets": "squall.sdk.objects",
    "Table": "squall.sdk.tables",
    "create_table": "squall.sdk.tables",
    "list_tables": "squall.sdk.tables",
    "Stream": "squall.sdk.streams",
    "create_stream": "squall.sdk.streams",
    "list_streams": "squall.sdk.streams",
}

__all__ = ["__version__", *_SDK_NAMES]


def __getattr__(name: str) -> Any:
    module = _SDK_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'squall' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
