import base64
import json


def handler(event, context):
    # Print each batch as one JSON line, so the live test can read the event from the function's log.
    print(json.dumps({"received": event}))
    return [base64.b64decode(record["kinesis"]["data"]).decode() for record in event["Records"]]
