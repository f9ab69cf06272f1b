"""Handlers of the layer description tests."""


def plain(event, context):
    return "no layers"


def layered(event, context):
    """Return a value from each layer, so a call shows that both are on the import path."""
    import common_util
    import tools_util

    return [common_util.NAME, tools_util.NAME]
