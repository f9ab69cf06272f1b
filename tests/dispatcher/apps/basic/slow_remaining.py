import time

time.sleep(1.5)


def handler(event, context):
    return context.get_remaining_time_in_millis()
