import json


def cleanup(event, context):
    # The return value of a scheduled run is discarded, so the event is printed to the function's log.
    print(json.dumps({"received": event}))
    return {"job": event.get("job")}


def report(event, context):
    print(json.dumps({"received": event}))
    return {"report": event.get("report")}
