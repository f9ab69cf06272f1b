import json
import os


def lambda_handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"{os.environ['GREETING']}, {name}", "version": event.get("version")}),
    }


def fallback(event, context):
    return {"statusCode": 404, "body": json.dumps({"path": event.get("rawPath")})}
