"""Functions that invoke themselves with a plain boto3 Lambda client, as a loop by mistake would."""

import json
import os

import boto3
from botocore.config import Config

# The platform points the client at the server (AWS_ENDPOINT_URL_LAMBDA). No
# retries, so a stopped call fails at once, and a read timeout longer than a
# chain of nested calls takes.
_CLIENT = boto3.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))


def call_self(event, context):
    """Invoke this function synchronously until `max_depth` or until the call is stopped.

    Returns the depth reached, the trace header of each level (outermost
    first) and the error that stopped the chain, if any.
    """
    depth = event.get("depth", 1)
    own = {"depth": depth, "headers": [os.environ["_X_AMZN_TRACE_ID"]], "error": None}
    if depth >= event["max_depth"]:
        return own
    try:
        response = _CLIENT.invoke(
            FunctionName=context.function_name,
            Payload=json.dumps({"depth": depth + 1, "max_depth": event["max_depth"]}),
        )
    except _CLIENT.exceptions.RecursiveInvocationException as error:
        own["error"] = {
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
            "type": error.response.get("Type"),
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
        return own
    inner = json.load(response["Payload"])
    return {**inner, "headers": own["headers"] + inner["headers"]}


def call_self_async(event, context):
    """Note this call in the OUT folder, then invoke this function asynchronously, up to `max_depth` calls."""
    depth = event.get("depth", 1)
    note = {"depth": depth, "header": os.environ["_X_AMZN_TRACE_ID"]}
    path = os.path.join(os.environ["OUT"], f"{depth}.json")
    # Written under a temporary name, so a reader never sees half a file.
    with open(path + ".tmp", "w") as file:
        json.dump(note, file)
    os.rename(path + ".tmp", path)
    if depth < event["max_depth"]:
        _CLIENT.invoke(
            FunctionName=context.function_name,
            InvocationType="Event",
            Payload=json.dumps({"depth": depth + 1, "max_depth": event["max_depth"]}),
        )
    return depth
