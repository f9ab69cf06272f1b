import time

print("init starting", flush=True)
time.sleep(60)


def handler(event, context):
    return "never"
