"""Handlers of the gateway checks; each does one thing the tests can observe over HTTP."""

import json
import time


def echo_event(event, context):
    """Return the whole event as the JSON body, for both payload versions."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}


def respond_as_requested(event, context):
    """Return the value under "result" in the request's JSON body, so a test chooses the response."""
    return json.loads(event["body"])["result"]


def fail(event, context):
    raise RuntimeError("the handler failed on purpose")


def sleep(event, context):
    """Sleep past the function's 1 s timeout."""
    time.sleep(10)
    return {"statusCode": 200, "body": "woke up"}


def hold(event, context):
    """Sleep for the seconds given in the query string, holding the only instance."""
    parameters = event.get("queryStringParameters") or {}
    time.sleep(float(parameters.get("seconds", "0")))
    return {"statusCode": 200, "body": "released"}
