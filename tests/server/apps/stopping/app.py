import time


def handler(event, context):
    print("slow call started", flush=True)
    time.sleep(30)
    return {"statusCode": 200, "body": "finished"}
