"""The handler of the CORS tests: it counts its calls and returns a CORS header of its own."""

import json

calls = 0


def answer(event, context):
    """Return the number of calls this instance served, with an Access-Control-Allow-Origin the gateway may replace."""
    global calls
    calls += 1
    headers = {"content-type": "application/json", "access-control-allow-origin": "https://function.example"}
    return {"statusCode": 200, "headers": headers, "body": json.dumps({"calls": calls, "method": event.get("httpMethod")})}


def fail(event, context):
    """Raise, so that the gateway sends its own 500 in place of a response."""
    raise RuntimeError("failed on purpose")


def malformed(event, context):
    """Return a statusCode that is not a number, which the gateway rejects with its own 500."""
    return {"statusCode": "teapot", "body": "{}"}
