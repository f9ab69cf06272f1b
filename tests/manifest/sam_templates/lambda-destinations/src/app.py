def worker(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"done": event.get("id")}


def on_failure(event, context):
    return {"failed": event["requestPayload"]}
