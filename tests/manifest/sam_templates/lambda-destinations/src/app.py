import json


def worker(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"done": event.get("id")}


def on_failure(event, context):
    # The return value of a destination function is discarded, so the record is printed to the function's log.
    print(json.dumps({"received": event}))
    return {"failed": event["requestPayload"]}
