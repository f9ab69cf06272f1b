import common_util


def greet(event, context):
    return {"greeting": common_util.GREETING, "module_file": common_util.__file__}
