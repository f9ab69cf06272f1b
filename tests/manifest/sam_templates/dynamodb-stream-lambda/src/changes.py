import json


def handler(event, context):
    # Print each batch as one JSON line, so the live test can read the event from the function's log.
    print(json.dumps({"received": event}))
    return {"processed": [record["eventName"] for record in event["Records"]]}
