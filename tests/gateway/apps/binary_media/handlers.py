"""Handlers of the binary media type tests: one returns a PNG image, one returns its event."""

import json

# A 1x1 PNG image, base64-encoded as a proxy response carries it.
PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


def image(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": PNG_BASE64, "isBase64Encoded": True}


def echo(event, context):
    """Return the whole event as the JSON body."""
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
