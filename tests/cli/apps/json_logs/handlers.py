import json

from aws_lambda_powertools import Logger

logger = Logger(service="orders")


def orders(event, context):
    # One line written by hand, one by Powertools' JSON logger.
    print(json.dumps({"level": "INFO", "message": "received", "order": {"id": event["order"]}}))
    if event.get("fail"):
        logger.error("payment failed", order_id=event["order"])
        return {"ok": False}
    print("plain text: payment accepted")
    return {"ok": True}


def thumbs(event, context):
    print("resized")
    return {"size": 64}
