def handler(event, context):
    return {"processed": [record["eventName"] for record in event["Records"]]}
