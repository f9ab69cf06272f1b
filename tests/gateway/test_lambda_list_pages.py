"""Paging of the Lambda API's list operations: Marker, MaxItems and the per-call cap."""

from __future__ import annotations

import pytest

from squall.gateway.invoke_api import MAX_PAGE_FUNCTIONS, ApiError, _page


def items(count: int) -> dict[str, list[int]]:
    return {"Functions": list(range(count))}


def test_page_caps_at_fifty() -> None:
    first = _page(items(63), "Functions", {}, MAX_PAGE_FUNCTIONS)
    rest = _page(items(63), "Functions", {"Marker": [first["NextMarker"]]}, MAX_PAGE_FUNCTIONS)

    assert first["Functions"] == list(range(50))
    assert first["NextMarker"] == "50"
    assert rest["Functions"] == list(range(50, 63))
    assert "NextMarker" not in rest


def test_max_items_above_cap_still_capped() -> None:
    page = _page(items(63), "Functions", {"MaxItems": ["100"]}, MAX_PAGE_FUNCTIONS)

    assert len(page["Functions"]) == 50
    assert page["NextMarker"] == "50"


def test_max_items_below_cap_wins() -> None:
    page = _page(items(63), "Functions", {"MaxItems": ["7"]}, MAX_PAGE_FUNCTIONS)

    assert page["Functions"] == list(range(7))
    assert page["NextMarker"] == "7"


@pytest.mark.parametrize("text", ["0", "10001", "ten"])
def test_max_items_out_of_range_is_validation_error(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        _page(items(3), "Functions", {"MaxItems": [text]})

    assert (raised.value.status, raised.value.code) == (400, "ValidationException")
    assert f"Value '{text}' at 'maxItems'" in raised.value.message
