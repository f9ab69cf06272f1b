"""How `squall up` merges the watcher's batches of changes into one redeploy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import watchfiles

from squall.server import settled_changes

Batch = set[tuple[watchfiles.Change, str]]
QUIET: Batch = set()  # what watchfiles yields when its timeout passes without a change


def change(name: str) -> Batch:
    return {(watchfiles.Change.modified, f"/service/{name}")}


async def replay(batches: list[Batch], clock: list[float] | None = None) -> AsyncIterator[Batch]:
    """Yield the batches in order, moving the fake clock one second for each."""
    for batch in batches:
        if clock is not None:
            clock[0] += 1.0
        yield batch


async def settle(batches: list[Batch], max_wait_s: float = 60.0) -> list[Batch]:
    clock = [0.0]
    return [merged async for merged in settled_changes(replay(batches, clock), max_wait_s, lambda: clock[0])]


async def test_chunked_write_gives_one_batch() -> None:
    # watchfiles yields a batch per chunk written to the same file, then an empty one once it is quiet.
    settled = await settle([change("data.bin")] * 10 + [QUIET])

    assert settled == [change("data.bin")]


async def test_pauses_separate_batches() -> None:
    settled = await settle([change("a.py"), change("b.py"), QUIET, QUIET, change("c.py"), QUIET])

    assert settled == [change("a.py") | change("b.py"), change("c.py")]


async def test_quiet_folder_gives_nothing() -> None:
    assert await settle([QUIET] * 5) == []


async def test_endless_changes_settle_at_max_wait() -> None:
    # A change every second, never a pause: yielded once max_wait_s has passed since the first.
    settled = await settle([change(f"part-{number}") for number in range(10)], max_wait_s=3.0)

    assert settled[0] == change("part-0") | change("part-1") | change("part-2") | change("part-3")
    assert len(settled) == 2
