"""Schedule accuracy: note when each scheduled tick reached the handler."""

import json
import os
import time


def tick(event, context):
    line = json.dumps({"function": context.function_name, "due": event["time"], "ran": time.time()}) + "\n"
    descriptor = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
