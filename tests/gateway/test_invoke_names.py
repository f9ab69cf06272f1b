"""Function names the Invoke API accepts, as Lambda documents them."""

from __future__ import annotations

import pytest

from squall.gateway.invoke_api import ApiError, split_function_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("my-function", ("my-function", None)),
        ("my-function:$LATEST", ("my-function", "$LATEST")),
        ("my-function:live", ("my-function", "live")),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-function", ("my-function", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-function:3", ("my-function", "3")),
        ("123456789012:function:my-function", ("my-function", None)),
        ("123456789012:function:my-function:$LATEST", ("my-function", "$LATEST")),
    ],
)
def test_function_name_forms(raw: str, expected: tuple[str, str | None]) -> None:
    assert split_function_name(raw) == expected


def test_malformed_arn_rejected() -> None:
    with pytest.raises(ApiError) as raised:
        split_function_name("arn:aws:lambda:us-east-1:123456789012:layer:x:1")
    assert raised.value.status == 400
    assert "arn:aws:lambda:us-east-1:123456789012:layer:x:1" in raised.value.message
