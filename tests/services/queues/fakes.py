"""Test doubles shared by the queue service tests."""

from __future__ import annotations

START_TIME_S = 1_700_000_000.0


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, now: float = START_TIME_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
