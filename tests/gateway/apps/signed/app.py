import json

import boto3


def target(event, context):
    return {"pong": event}


def caller(event, context):
    # The platform's AWS_ENDPOINT_URL_LAMBDA and credentials aim this client at the server.
    client = boto3.client("lambda", region_name="us-east-1")
    answer = client.invoke(FunctionName="target", Payload=json.dumps({"from": "caller"}))
    return json.load(answer["Payload"])
