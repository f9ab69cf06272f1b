"""The change log: one event per change, in commit order, readable from a checkpoint."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter
from squall.services.objects import EventKind, EventName, ObjectStore, PreconditionFailed
from tests.services.objects.conftest import FakeClock


def test_events_record_each_change(store: ObjectStore, bucket: str, clock: FakeClock) -> None:
    put = store.put(bucket, "a", b"one")
    clock.advance(1)
    copied = store.copy(bucket, "a", bucket, "b")
    clock.advance(1)
    store.delete(bucket, "a")

    events = store.events()
    assert [(e.name, e.kind, e.key) for e in events] == [
        (EventName.PUT, EventKind.CREATED, "a"),
        (EventName.COPY, EventKind.CREATED, "b"),
        (EventName.DELETE, EventKind.REMOVED, "a"),
    ]
    assert [e.name.value for e in events] == ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete"]
    assert (events[0].size, events[0].etag, events[0].time) == (3, put.etag, put.last_modified)
    assert (events[1].size, events[1].etag) == (3, copied.etag)
    assert (events[2].size, events[2].etag, events[2].time) == (None, None, clock.now)
    assert all(e.bucket == bucket for e in events)


def test_events_seq_and_sequencer_increase(store: ObjectStore, bucket: str) -> None:
    for i in range(20):
        store.put(bucket, f"k{i}", b"x")
    events = store.events(limit=100)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 20
    sequencers = [e.sequencer for e in events]
    assert sequencers == sorted(sequencers)
    assert all(len(s) == 18 and s == s.upper() for s in sequencers)
    int(sequencers[-1], 16)


def test_events_resume_from_checkpoint(store: ObjectStore, bucket: str) -> None:
    for i in range(7):
        store.put(bucket, f"k{i}", b"x")
    seen: list[str] = []
    checkpoint = 0
    for _ in range(10):
        batch = store.events(after_seq=checkpoint, limit=3)
        if not batch:
            break
        seen.extend(e.key for e in batch)
        checkpoint = batch[-1].seq
    assert seen == [f"k{i}" for i in range(7)]


def test_trim_events_never_reuses_seq(store: ObjectStore, bucket: str) -> None:
    for i in range(5):
        store.put(bucket, f"k{i}", b"x")
    events = store.events()
    assert store.trim_events(events[2].seq) == 3
    assert [e.key for e in store.events()] == ["k3", "k4"]

    store.trim_events(events[-1].seq)
    store.put(bucket, "later", b"x")
    (later,) = store.events()
    assert later.seq > events[-1].seq


def test_failed_writes_log_nothing(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"x", if_none_match=True)
    with pytest.raises(InvalidParameter):
        store.put(bucket, "", b"x")
    with pytest.raises(PreconditionFailed):
        store.put(bucket, "k", b"y", if_none_match=True)
    assert len(store.events()) == 1


def test_delete_missing_key_logs_delete(store: ObjectStore, bucket: str) -> None:
    store.delete(bucket, "never-existed")
    (event,) = store.events()
    assert (event.name, event.key) == (EventName.DELETE, "never-existed")


@pytest.mark.parametrize(("after_seq", "limit"), [(-1, 10), (0, 0), (0, 10_001)])
def test_events_invalid_arguments(store: ObjectStore, after_seq: int, limit: int) -> None:
    with pytest.raises(InvalidParameter):
        store.events(after_seq=after_seq, limit=limit)
