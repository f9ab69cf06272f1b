"""The handler of the staged routing tests: it names the function the gateway chose."""

import json


def describe(event, context):
    """Return the function's name, the payload version and the path the event carries."""
    body = {
        "function": context.function_name,
        "version": event["version"],
        "path": event.get("path") or event.get("rawPath"),
        "pathParameters": event.get("pathParameters"),
        "routeKey": event.get("routeKey"),
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
