import common_util


def greet(event, context):
    return {"greeting": common_util.GREETING, "module_file": common_util.__file__}


def tool(event, context):
    import layer_tools

    return {"tool": layer_tools.NAME, "module_file": layer_tools.__file__, "greeting": common_util.GREETING}
