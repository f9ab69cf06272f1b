"""A module that prints while it loads, for the tests of init output in the log."""

import sys

print("loading: first line")
sys.stdout.write("loading: no newline at the end")


def handler(event, context):
    print("handling", end="")
    return event.get("n", 0)


def big_handler(event, context):
    # 200,000 three-byte characters: over the log's 256 KB cap, cut inside characters unless both cuts step over them.
    print("✓" * 200_000)
    print("the last line")
    return 0
