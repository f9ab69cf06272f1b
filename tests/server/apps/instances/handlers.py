"""Count the calls an instance serves, and crash it on request."""

import os

CALLS = 0  # module state lives as long as the instance


def count(event, context):
    global CALLS
    if (event.get("queryStringParameters") or {}).get("crash"):
        os._exit(1)
    CALLS += 1
    return {"pid": os.getpid(), "calls": CALLS, "initialization": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
