"""Return the code's version; the tests rewrite ANSWER while the server runs."""

import time

ANSWER = "first"


def answer(event, context):
    return {"answer": ANSWER}


def slow_answer(event, context):
    """Return ANSWER after 1 s, long enough for a redeploy to happen meanwhile."""
    time.sleep(1)
    return {"answer": ANSWER}
