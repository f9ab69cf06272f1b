"""Example functions served by `make run`."""

import datetime
import json
import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def greet(event, context):
    """Greet the name in the path: GET /hello/{name}."""
    name = event["pathParameters"]["name"]
    logger.info("greeting %s", name)
    return {"message": f"{os.environ['GREETING']}, {name}!", "request_id": context.aws_request_id}


def echo(event, context):
    """Return the REST API (payload 1.0) event's method, path and body: ANY /v1/{proxy+}."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "method": event["httpMethod"],
            "proxy": event["pathParameters"]["proxy"],
            "query": event["multiValueQueryStringParameters"],
            "body": event["body"],
        }),
    }


async def clock(event, context):
    """Return the current time: GET /time, served by a provisioned instance."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"time": now.isoformat(), "remaining_ms": context.get_remaining_time_in_millis()}
