import squall_fixture_greeting


def greet(event, context):
    return {"greeting": squall_fixture_greeting.GREETING, "module_file": squall_fixture_greeting.__file__}
