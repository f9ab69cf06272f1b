def cleanup(event, context):
    return {"job": event.get("job")}


def report(event, context):
    return {"report": event.get("report")}
