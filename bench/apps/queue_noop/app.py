"""A queue-triggered handler that records, for each message, how long it took to arrive.

Each message body is JSON: {"sent": SECONDS, "out": PATH}, with `sent` the
sender's time.time(). The handler appends one line per message to PATH,
"DELAY_S HANDLED_AT", in one write per batch: O_APPEND makes each write land
at the end of the file even when several instances append at once.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = time.time()
    lines_by_file: dict[str, list[str]] = {}
    for record in event["Records"]:
        body = json.loads(record["body"])
        lines_by_file.setdefault(body["out"], []).append(f"{now - body['sent']:.6f} {now:.6f}\n")

    for path, lines in lines_by_file.items():
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, "".join(lines).encode())
        finally:
            os.close(descriptor)
    return {}
