import json


def handler(event, context):
    # One JSON line per batch in the function's log, which `squall logs` shows.
    print(json.dumps({"received": event}))
    return {"processed": [record["eventName"] for record in event["Records"]]}
