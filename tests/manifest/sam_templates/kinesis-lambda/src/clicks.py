import base64


def handler(event, context):
    return [base64.b64decode(record["kinesis"]["data"]).decode() for record in event["Records"]]
