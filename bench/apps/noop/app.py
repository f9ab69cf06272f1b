"""A handler that does nothing, so that a benchmark measures only the platform."""


def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
