"""Object latency: note when each object event, or each plain asynchronous event, reached the handler."""

import json
import os
import time


def _append(record):
    line = json.dumps(record) + "\n"
    descriptor = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)


def on_upload(event, context):
    # The benchmark puts the send time in the key: bench/NUMBER-SENT_NS.
    key = event["Records"][0]["s3"]["object"]["key"]
    sent_ns = int(key.rsplit("-", 1)[1])
    _append({"kind": "object", "latency_ms": (time.time_ns() - sent_ns) / 1e6})


def on_event(event, context):
    _append({"kind": "async", "latency_ms": (time.time_ns() - event["sent_ns"]) / 1e6})
