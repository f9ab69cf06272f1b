"""A no-op handler for the burst benchmark."""


def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
