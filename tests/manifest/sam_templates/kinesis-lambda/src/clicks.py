import base64
import json


def handler(event, context):
    # One JSON line per batch in the function's log, which `squall logs` shows.
    print(json.dumps({"received": event}))
    return [base64.b64decode(record["kinesis"]["data"]).decode() for record in event["Records"]]
