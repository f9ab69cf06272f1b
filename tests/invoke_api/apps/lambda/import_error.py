import squall_no_such_module_for_tests  # noqa: F401


def handler(event, context):
    return "unreachable"
