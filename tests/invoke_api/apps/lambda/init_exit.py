"""Exits during init with status 0, as the function behind the AWS recording does."""

import sys

sys.exit(0)


def handler(event, context):
    return "unreachable"
