"""Receipt handles: opaque tokens naming one receive of one message.

A handle encodes the queue name, the message id and a random nonce that
changes on every receive, so a handle from an earlier receive is distinguished
from a malformed one.
"""

from __future__ import annotations

import base64
import secrets

from squall.services.queues.errors import ReceiptHandleIsInvalid

_SEPARATOR = "\n"


def new_nonce() -> str:
    """Return a fresh random nonce for one receive."""
    return secrets.token_hex(12)


def make(queue: str, message_id: str, nonce: str) -> str:
    """Return the receipt handle of one receive of a message."""
    raw = _SEPARATOR.join((queue, message_id, nonce)).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def parse(queue: str, handle: object) -> tuple[str, str]:
    """Return the message id and nonce of a handle issued by `queue`.

    Raises ReceiptHandleIsInvalid when the handle is not one this store
    made or was made by another queue.
    """
    parts: list[str] = []
    if isinstance(handle, str):
        try:
            parts = base64.urlsafe_b64decode(handle.encode("ascii")).decode("utf-8").split(
                _SEPARATOR
            )
        except ValueError:
            # binascii.Error and the Unicode errors both derive from ValueError.
            parts = []
    if len(parts) != 3 or parts[0] != queue or not parts[1] or not parts[2]:
        shown = handle if not isinstance(handle, str) or len(handle) <= 80 else handle[:80] + "..."
        raise ReceiptHandleIsInvalid(
            f"receipt handle {shown!r} is invalid for queue {queue!r}: pass the handle that a"
            " receive from this queue returned"
        )
    return parts[1], parts[2]
