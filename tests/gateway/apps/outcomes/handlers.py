"""Handlers of the gateway outcome tests. Each ends its invocation in one way a client can observe."""

import json
import time


def echo(event, context):
    """Return the whole event as the JSON body."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}


def overrun(event, context):
    """Sleep past the function's 1 s timeout."""
    time.sleep(10)
    return {"statusCode": 200, "body": "woke up"}


def finish_late(event, context):
    """Sleep for the seconds in the query string, print a line and succeed, within the 10 s timeout."""
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "2"))
    time.sleep(seconds)
    print(f"finished after {seconds} s")
    return {"statusCode": 200, "body": "finished"}


def fail(event, context):
    raise RuntimeError("the handler failed on purpose")


def malformed(event, context):
    """Return a proxy response whose statusCode is not an integer."""
    return {"statusCode": "two hundred", "body": "x"}


def status(event, context):
    """Return the status in the query string with a body, which some statuses must not carry."""
    code = int((event.get("queryStringParameters") or {})["code"])
    return {"statusCode": code, "headers": {"content-type": "text/plain"}, "body": "a body the status forbids"}
