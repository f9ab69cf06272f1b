"""The Celery side of the queue benchmark: one task that does what bench/apps/queue_noop does per message.

The broker is the Redis URL in BENCH_CELERY_BROKER. There is no result
backend, so a task's only output is its line in the file `out`:
"DELAY_S HANDLED_AT", with DELAY_S measured from the sender's time.time().

Run a worker with `celery -A bench.apps.celery_noop worker`.
"""

from __future__ import annotations

import os
import time

from celery import Celery
from celery.signals import worker_ready

BROKER_ENVIRONMENT_VARIABLE = "BENCH_CELERY_BROKER"
# Printed once the worker's pool is up; the benchmark waits for this line.
READY_LINE = "celery_noop worker ready"

app = Celery("celery_noop", broker=os.environ.get(BROKER_ENVIRONMENT_VARIABLE, "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    # Keep Celery's other defaults (prefetch multiplier 4, early acknowledgement),
    # so the comparison is with Celery as most projects run it.
    broker_connection_retry_on_startup=True,
)


@worker_ready.connect
def _announce_ready(**_: object) -> None:
    print(READY_LINE, flush=True)


@app.task(name="bench.record")
def record(sent: float, out: str) -> None:
    """Append "DELAY_S HANDLED_AT" for one message to `out`."""
    now = time.time()
    descriptor = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, f"{now - sent:.6f} {now:.6f}\n".encode())
    finally:
        os.close(descriptor)
