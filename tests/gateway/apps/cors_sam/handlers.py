"""The handler of the CORS tests: it counts its calls and returns a CORS header of its own."""

import json

calls = 0


def answer(event, context):
    """Return the number of calls this instance served, with an Access-Control-Allow-Origin the gateway may replace."""
    global calls
    calls += 1
    headers = {"content-type": "application/json", "access-control-allow-origin": "https://function.example"}
    return {"statusCode": 200, "headers": headers, "body": json.dumps({"calls": calls, "method": event.get("httpMethod")})}
