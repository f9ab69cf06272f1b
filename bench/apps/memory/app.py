"""A handler that keeps its instance busy for `?sleep_ms=N`, so that concurrent calls need one instance each."""

import time


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    sleep_ms = float(query.get("sleep_ms", "0"))
    if sleep_ms > 0:
        time.sleep(sleep_ms / 1000)
    return {"statusCode": 200, "body": "ok"}
