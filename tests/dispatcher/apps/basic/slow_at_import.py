import time

time.sleep(1.5)


def handler(event, context):
    return "ready"
