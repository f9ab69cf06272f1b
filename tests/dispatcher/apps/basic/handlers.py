import os
import time

calls = 0


def count(event, context):
    global calls
    calls += 1
    return {"pid": os.getpid(), "calls": calls}


def sleep(event, context):
    time.sleep(event.get("seconds", 0.5))
    return {"pid": os.getpid()}


def environment(event, context):
    return dict(os.environ)


def crash(event, context):
    os._exit(1)


def hog(event, context):
    chunks = []
    for _ in range(event.get("mb", 1024)):
        chunks.append(bytearray(1024 * 1024))
    return len(chunks)


def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn}


def shout(event, context):
    print(event.get("text", "hello"))
    return None


def fail(event, context):
    raise ValueError("bad input")


def scheduling_policy(event, context):
    return os.sched_getscheduler(0)
