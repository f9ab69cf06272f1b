"""Squall's storage: invocation records, logs and the registry of deployed services.

`base` contains the interfaces and the background writer that keeps storage off
the event loop; `sqlite` is the embedded implementation.
"""

from __future__ import annotations

from squall.store.base import (
    BackgroundWriter,
    BatchSink,
    LogStore,
    RecordStore,
    Registry,
    ServiceEntry,
    Store,
    StoreClosed,
    StoreError,
    TransientWriteError,
    WriterCounters,
    WriterState,
)
from squall.store.sqlite import SqliteStore

__all__ = [
    "BackgroundWriter",
    "BatchSink",
    "LogStore",
    "RecordStore",
    "Registry",
    "ServiceEntry",
    "SqliteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "TransientWriteError",
    "WriterCounters",
    "WriterState",
]
