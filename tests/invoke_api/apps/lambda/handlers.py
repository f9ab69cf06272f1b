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
