"""Handlers called through the Invoke API."""

import os
import sys
import tempfile
import time

CALLS = 0  # invocations this instance has served


def echo(event, context):
    """Print the event, as the function behind the AWS recording does, and return it."""
    import json

    print(json.dumps(event))
    return event


def probe(event, context):
    """Return the context fields, environment and instance identity this call ran with."""
    global CALLS
    CALLS += 1
    # A file of this instance's own, to show whose files its temporary folder shows.
    with open(os.path.join(tempfile.gettempdir(), f"probe-{os.getpid()}"), "w"):
        pass
    time.sleep(event.get("sleep_s", 0))
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "environment": dict(os.environ),
        "tempdir": tempfile.gettempdir(),
        "tempdir_probes": sorted(name for name in os.listdir(tempfile.gettempdir()) if name.startswith("probe-")),
        "pid": os.getpid(),
        "calls": CALLS,
    }


def sleep(event, context):
    time.sleep(10)
    return "woke up"


def big_response(event, context):
    """Return a string whose JSON form is larger than Lambda's 6,291,556-byte response limit."""
    return "x" * 6_300_000


def os_exit(event, context):
    os._exit(3)


def sys_exit(event, context):
    sys.exit(3)


def allocate(event, context):
    """Allocate and write `mb` megabytes, so that every page counts against the memory limit."""
    block = b"\x01" * (event["mb"] * 1024 * 1024)
    return {"allocated_mb": len(block) // (1024 * 1024)}


def context_objects(event, context):
    """Return the attributes of the client context and identity objects this call got."""
    client_context = context.client_context
    client = None if client_context is None else client_context.client
    seen = {
        "identity": {
            "cognito_identity_id": context.identity.cognito_identity_id,
            "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        },
        "client_context": None,
    }
    if client_context is not None:
        seen["client_context"] = {
            "client": None
            if client is None
            else {
                "installation_id": client.installation_id,
                "app_title": client.app_title,
                "app_version_name": client.app_version_name,
                "app_version_code": client.app_version_code,
                "app_package_name": client.app_package_name,
            },
            "custom": client_context.custom,
            "env": client_context.env,
        }
    return seen


def parse_text(event, context):
    """Parse `text` as JSON, so that invalid text fails inside the standard library's json module."""
    import json

    return json.loads(event["text"])


def chain(event, context):
    """Invoke another function with boto3, as a Lambda function calls another one, without credentials of its own."""
    import json

    import boto3

    # No endpoint_url: AWS_ENDPOINT_URL_LAMBDA, which Squall sets, sends the call to the server.
    client = boto3.client("lambda")
    answer = client.invoke(FunctionName="echo", Payload=json.dumps({"from": context.function_name}))
    return json.loads(answer["Payload"].read())
