"""Errors of the stream service that need an error code of their own."""

from __future__ import annotations

from squall.services.errors import InvalidParameter


class InvalidArgument(InvalidParameter):
    """Raised when a stream request contains an invalid value.

    The code is the one Kinesis Data Streams returns for the same case, so a
    user can search for it.
    """

    code = "InvalidArgumentException"
