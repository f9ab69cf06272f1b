import json
import os

from squall.sdk.queues import Queue


def handler(event, context):
    results = Queue(os.environ["RESULTS_QUEUE"])
    for record in event["Records"]:
        results.send(json.dumps({"bucket": record["s3"]["bucket"]["name"], "key": record["s3"]["object"]["key"],
                                 "event": record["eventName"]}))
