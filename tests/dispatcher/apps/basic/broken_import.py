import squall_no_such_module_for_tests  # noqa: F401 - the import fails on purpose


def handler(event, context):
    return "unreachable"
