"""Squall's SDK: reach the platform's queues, buckets, tables and streams from Python code."""

from squall.sdk.client import Client, RemoteError, default_client

__all__ = ["Client", "RemoteError", "default_client"]
