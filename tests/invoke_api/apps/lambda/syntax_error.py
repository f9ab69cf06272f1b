def handler(event, context)
    return "unreachable"
