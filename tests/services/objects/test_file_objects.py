"""The embedded backend's files: cleanup of blobs, a full disk, restarts and crashes."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from squall.services.errors import ServiceError, StorageFull
from squall.services.objects import FileObjects, NoSuchKey, StoreInUse
from squall.services.objects import blobs as blobs_module
from tests.services.objects.conftest import FakeClock, reopen

REPO = Path(__file__).resolve().parents[3]
SUBPROCESS_TIMEOUT_S = 30


def blob_files(store: FileObjects) -> list[Path]:
    return [path for path in (store.root / "blobs").rglob("*") if path.is_file()]


def temporary_files(store: FileObjects) -> list[Path]:
    return list((store.root / "tmp").iterdir())


def read_all(store: FileObjects, key: str) -> bytes:
    with store.get("photos", key).body as body:
        return b"".join(body)


def test_folder_layout(files_store: FileObjects) -> None:
    files_store.put("photos", "k", b"x")
    assert (files_store.root / "objects.db").is_file()
    assert len(blob_files(files_store)) == 1
    assert temporary_files(files_store) == []


def test_overwrite_and_delete_remove_blob_files(files_store: FileObjects) -> None:
    files_store.put("photos", "k", b"one")
    files_store.put("photos", "k", b"two")
    assert len(blob_files(files_store)) == 1
    files_store.delete("photos", "k")
    assert blob_files(files_store) == []


def test_copy_shares_blob_until_last_reference(files_store: FileObjects) -> None:
    files_store.put("photos", "src", b"payload")
    files_store.copy("photos", "src", "photos", "dst")
    assert len(blob_files(files_store)) == 1

    files_store.delete("photos", "src")
    assert len(blob_files(files_store)) == 1
    assert read_all(files_store, "dst") == b"payload"

    files_store.delete("photos", "dst")
    assert blob_files(files_store) == []


def test_entity_too_large_leaves_no_file(files_store: FileObjects) -> None:
    with pytest.raises(ServiceError):
        files_store.put("photos", "big", b"x" * (files_store.max_object_size + 1))
    assert blob_files(files_store) == []
    assert temporary_files(files_store) == []


def test_disk_full_while_streaming(files_store: FileObjects, monkeypatch: pytest.MonkeyPatch) -> None:
    files_store.put("photos", "k", b"previous")
    original_write = blobs_module._write_all
    writes = 0

    def write_until_full(file: object, chunk: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        original_write(file, chunk)  # type: ignore[arg-type]

    monkeypatch.setattr(blobs_module, "_write_all", write_until_full)
    with pytest.raises(StorageFull) as caught:
        files_store.put("photos", "k", [b"a" * 1000] * 10)
    assert caught.value.status == 507
    assert "photos/k" in caught.value.message

    monkeypatch.undo()
    assert read_all(files_store, "k") == b"previous"
    assert len(blob_files(files_store)) == 1
    assert temporary_files(files_store) == []
    assert len(files_store.events()) == 1


def test_database_full_keeps_previous(files_store: FileObjects) -> None:
    files_store.put("photos", "k", b"previous")
    # Test-only reach into the backend: SQLite reports "database or disk is
    # full" once the file would pass max_page_count, as on a full disk.
    connection = files_store._connection
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")

    last_committed = b"previous"
    with pytest.raises(StorageFull):
        for i in range(200):
            data = f"version {i}".encode()
            files_store.put("photos", "k", data, metadata={"pad": "p" * 1900})
            last_committed = data

    committed = files_store.head("photos", "k")
    assert read_all(files_store, "k") == last_committed
    assert len(blob_files(files_store)) == 1
    assert temporary_files(files_store) == []
    assert files_store.events(limit=1000)[-1].etag == committed.etag


def test_restart_keeps_objects_and_events(files_store: FileObjects, clock: FakeClock) -> None:
    files_store.put("photos", "k", b"kept", metadata={"a": "1"})
    info = files_store.head("photos", "k")
    reopened = reopen(files_store, clock)
    try:
        assert reopened.head("photos", "k") == info
        assert read_all(reopened, "k") == b"kept"
        assert [e.key for e in reopened.events()] == ["k"]
    finally:
        reopened.close()


def test_restart_sweeps_leftover_files(files_store: FileObjects, clock: FakeClock) -> None:
    files_store.put("photos", "k", b"kept")
    (files_store.root / "tmp" / "0123.part").write_bytes(b"unfinished upload")
    orphan = files_store.root / "blobs" / "ab" / "ab00000000000000000000000000000"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"renamed, never committed")

    reopened = reopen(files_store, clock)
    try:
        assert temporary_files(reopened) == []
        assert not orphan.exists()
        assert len(blob_files(reopened)) == 1
        assert read_all(reopened, "k") == b"kept"
    finally:
        reopened.close()


def test_second_store_on_same_folder(files_store: FileObjects, clock: FakeClock) -> None:
    with pytest.raises(StoreInUse):
        FileObjects(files_store.root, clock=clock)


def test_closed_store_raises(files_store: FileObjects) -> None:
    files_store.close()
    with pytest.raises(ServiceError, match="closed"):
        files_store.head("photos", "k")


def test_missing_blob_file_reported(files_store: FileObjects) -> None:
    files_store.put("photos", "k", b"x")
    for path in blob_files(files_store):
        path.unlink()
    with pytest.raises(ServiceError, match="data file is missing"):
        files_store.get("photos", "k")


def test_concurrent_puts_from_threads(files_store: FileObjects) -> None:
    def put(index: int) -> None:
        files_store.put("photos", f"k{index % 8}", f"value {index}".encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(64)))

    assert files_store.list("photos").key_count == 8
    assert len(blob_files(files_store)) == 8
    assert len(files_store.events(limit=1000)) == 64


def run_and_kill(root: Path, body: str) -> None:
    """Run `body` in a child Python that opens the store at `root`, then expect it to die by SIGKILL."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from squall.services.objects import FileObjects
        store = FileObjects(Path({str(root)!r}))
        def kill():
            os.kill(os.getpid(), signal.SIGKILL)
        """
    ) + textwrap.dedent(body)
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, timeout=SUBPROCESS_TIMEOUT_S, capture_output=True, text=True
    )
    assert completed.returncode == -9, completed.stderr


def test_sigkill_after_put_keeps_object(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "objects"
    run_and_kill(root, 'store.create_bucket("photos")\nstore.put("photos", "k", b"committed")\nkill()\n')
    store = FileObjects(root, clock=clock)
    try:
        assert read_all(store, "k") == b"committed"
        assert [e.key for e in store.events()] == ["k"]
    finally:
        store.close()


def test_sigkill_during_put_keeps_previous(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "objects"
    body = """
    store.create_bucket("photos")
    store.put("photos", "k", b"previous")
    def dying_upload():
        yield b"half of the new version"
        kill()
    store.put("photos", "k", dying_upload())
    """
    run_and_kill(root, body)
    assert len(list((root / "tmp").iterdir())) == 1

    store = FileObjects(root, clock=clock)
    try:
        assert read_all(store, "k") == b"previous"
        assert temporary_files(store) == []
        assert len(store.events()) == 1
        with pytest.raises(NoSuchKey):
            store.head("photos", "other")
    finally:
        store.close()
