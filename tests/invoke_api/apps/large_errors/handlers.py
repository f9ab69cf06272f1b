"""Handlers of the large error result tests."""

# Lambda's response limit, in bytes, as its error message quotes it.
MAX_RESPONSE_BYTES = 6_291_556


def over_limit(event, context):
    """Raise an exception whose message alone is larger than the limit."""
    raise RuntimeError("x" * (MAX_RESPONSE_BYTES + 1))


def under_limit(event, context):
    """Raise an exception whose error result, with its stack trace, stays 4 KB under the limit."""
    raise RuntimeError("y" * (MAX_RESPONSE_BYTES - 4096))


def after_error(event, context):
    """Raise an oversized error on an event with {"fail": true}, else succeed."""
    if event.get("fail"):
        raise RuntimeError("z" * (MAX_RESPONSE_BYTES + 1))
    return "still serving"
