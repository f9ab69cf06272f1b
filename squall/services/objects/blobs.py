"""Object bytes as plain files: written to a temporary file, synced, then renamed into place.

Layout under the store's folder:

- `tmp/<random>.part`: an upload in progress. A crash can leave one behind,
  and the next start removes it.
- `blobs/<first 2 hex digits>/<32 hex digits>`: a finished blob, never
  changed after the rename. Metadata rows refer to blobs by id, and a copy
  refers to the same blob as its source.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from squall.services.errors import StorageFull
from squall.services.objects.errors import EntityTooLarge, InvalidArgument
from squall.services.objects.model import ObjectData

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1024 * 1024

_NO_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)
_TEMPORARY_SUFFIX = ".part"


@dataclass(frozen=True)
class StoredBlob:
    """A blob renamed into place: its id, size in bytes and MD5 in hex."""

    blob_id: str
    size: int
    md5: str


def iter_chunks(data: ObjectData, chunk_size: int) -> Iterator[bytes]:
    """Yield the bytes of `data` (a binary file, an iterable of bytes, or bytes) in pieces."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])
        return
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            yield _check_chunk(chunk)
        return
    if isinstance(data, str) or not isinstance(data, Iterable):
        raise InvalidArgument(
            f"object data of type {type(data).__name__} is invalid: expected bytes, a binary file"
            " or an iterable of bytes"
        )
    for chunk in data:
        if chunk:
            yield _check_chunk(chunk)


def _check_chunk(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise InvalidArgument(
        f"object data chunk of type {type(chunk).__name__} is invalid: expected bytes"
        " (open files in binary mode)"
    )


def _write_all(file: BinaryIO, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = file.write(view)
        if written is None:
            raise OSError(errno.EAGAIN, "non-blocking write made no progress")
        view = view[written:]


class BlobFiles:
    """The blob files of one store folder."""

    def __init__(self, root: Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._blobs = root / "blobs"
        self._temporary = root / "tmp"
        self.chunk_size = chunk_size
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._temporary.mkdir(parents=True, exist_ok=True)

    def write(self, data: ObjectData, max_size: int, description: str) -> StoredBlob:
        """Stream `data` into a new blob and return it once it is durable on disk.

        Raises `EntityTooLarge` as soon as more than `max_size` bytes arrive
        and `StorageFull` when the disk is full. On any error, including one
        raised by `data` itself, no file is left behind. `description`
        names the object in messages.
        """
        blob_id = uuid.uuid4().hex
        temporary = self._temporary / f"{blob_id}{_TEMPORARY_SUFFIX}"
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with open(temporary, "xb", buffering=0) as file:
                for chunk in iter_chunks(data, self.chunk_size):
                    size += len(chunk)
                    if size > max_size:
                        raise EntityTooLarge(
                            f"object {description} is larger than the maximum object size of {max_size} bytes"
                        )
                    digest.update(chunk)
                    _write_all(file, chunk)
                os.fsync(file.fileno())

            final = self.path(blob_id)
            created_folder = not final.parent.exists()
            final.parent.mkdir(exist_ok=True)
            if created_folder:
                _sync_directory(self._blobs)
            os.rename(temporary, final)
            _sync_directory(final.parent)
        except OSError as exc:
            _remove_quietly(temporary)
            if exc.errno in _NO_SPACE_ERRORS:
                raise StorageFull(
                    f"no space left on the disk for object {description} after {size} bytes: free disk space"
                    " and upload it again"
                ) from exc
            raise
        except BaseException:
            _remove_quietly(temporary)
            raise
        return StoredBlob(blob_id, size, digest.hexdigest())

    def path(self, blob_id: str) -> Path:
        return self._blobs / blob_id[:2] / blob_id

    def open(self, blob_id: str) -> BinaryIO:
        return open(self.path(blob_id), "rb")

    def remove(self, blob_id: str) -> None:
        """Delete a blob file; a missing file is fine, and other errors are logged, not raised.

        A blob that cannot be deleted now is deleted by the next start's sweep.
        """
        try:
            self.path(blob_id).unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not delete blob %s, the next start deletes it: %s", blob_id, exc)

    def remove_temporary_files(self) -> int:
        """Delete every upload a crash left behind; return how many were deleted.

        Call this only while no upload is running, such as at start.
        """
        removed = 0
        for path in self._temporary.iterdir():
            if path.is_file() and path.name.endswith(_TEMPORARY_SUFFIX):
                _remove_quietly(path)
                removed += 1
        return removed

    def blob_ids(self) -> Iterator[str]:
        """Yield the id of every finished blob file."""
        for folder in self._blobs.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.is_file():
                    yield path.name


def _sync_directory(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not delete temporary file %s: %s", path, exc)
