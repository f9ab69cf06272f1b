SETTINGS = {}
TIMEOUT = int(SETTINGS.get("timeout", "not a number"))


def handler(event, context):
    return TIMEOUT
