"""Handlers of the HTTP API payload 1.0 tests. Each ends its invocation in one way a client can observe."""

import json
import time


def echo(event, context):
    """Return the whole event as the JSON body."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}


def fail(event, context):
    raise RuntimeError("the handler failed on purpose")


def malformed(event, context):
    """Return a result without a statusCode, which payload 1.0 requires."""
    return {"message": "no status code"}


def finish_late(event, context):
    """Sleep for the seconds in the query string and succeed."""
    time.sleep(float(event["queryStringParameters"]["seconds"]))
    return {"statusCode": 200, "body": "finished"}
