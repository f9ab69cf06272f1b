import json
import os


def get_item(event, context):
    item_id = event["pathParameters"]["id"]
    body = {"id": item_id, "table": os.environ["TABLE_NAME"], "stage": os.environ["STAGE"]}
    return {"statusCode": 200, "body": json.dumps(body)}


def put_item(event, context):
    return {"statusCode": 201, "body": event.get("body") or "{}"}
