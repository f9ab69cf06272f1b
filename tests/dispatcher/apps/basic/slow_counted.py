import os
import time

# Each run of the module-level code adds a line, so the handler can tell how often the init ran.
with open(os.environ["INIT_RUNS_FILE"], "a") as runs:
    runs.write("init\n")
time.sleep(1.5)


def handler(event, context):
    with open(os.environ["INIT_RUNS_FILE"]) as runs:
        return len(runs.readlines())
