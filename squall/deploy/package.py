"""Packages for remote deploys: the CLI packs a service folder, the server unpacks it.

A package is a gzip-compressed tar of the files a local deploy would copy
(see `code_files`). The server unpacks it into `DATA/uploads/<service>`, which
then plays the part of the service's folder: restarts deploy it again from
there.
"""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
import uuid
from pathlib import Path, PurePosixPath

from squall.deploy.snapshot import MAX_SNAPSHOT_BYTES, code_files
from squall.errors import DeployError

logger = logging.getLogger(__name__)

# Compressed size accepted by the server; the unpacked files are held to
# MAX_SNAPSHOT_BYTES as a local deploy is.
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
CONTENT_TYPE = "application/gzip"


def pack(folder: Path) -> bytes:
    """Return the package of `folder`: a .tar.gz of its code files, paths relative to the folder."""
    files = code_files(folder)
    total = sum(path.stat().st_size for _, path in files)
    if total > MAX_SNAPSHOT_BYTES:
        raise DeployError(f"{folder}: the code to deploy is {total} bytes, over the limit of {MAX_SNAPSHOT_BYTES}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for relative, path in files:
            archive.add(path, arcname=relative, recursive=False)
    data = buffer.getvalue()
    if len(data) > MAX_PACKAGE_BYTES:
        raise DeployError(f"{folder}: the package is {len(data)} bytes, over the server's limit of {MAX_PACKAGE_BYTES}")
    return data


def unpack(data: bytes, staging_root: Path) -> Path:
    """Unpack a package into a new folder under `staging_root` and return it.

    Raises DeployError for a package that is not a .tar.gz, contains anything
    but plain files and folders, points outside its folder, or is too large.
    """
    staging = staging_root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = archive.getmembers()
            size = sum(member.size for member in members)
            if size > MAX_SNAPSHOT_BYTES:
                raise DeployError(f"the package unpacks to {size} bytes, over the limit of {MAX_SNAPSHOT_BYTES}")
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise DeployError(f"the package contains {member.name!r}, which is not a plain file or folder")
            if hasattr(tarfile, "data_filter"):
                # The "data" filter rejects absolute paths, ".." and links leaving the folder.
                archive.extractall(staging, filter="data")
            else:
                _extract_checked(archive, members, staging)
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DeployError(f"the uploaded package is not a valid .tar.gz: {error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _extract_checked(archive: tarfile.TarFile, members: list[tarfile.TarInfo], staging: Path) -> None:
    """Extract plain files and folders as the "data" filter would, on Python before 3.11.4, which has no filters."""
    for member in members:
        # As the "data" filter does: a leading "/" is dropped, ".." is rejected, and modes
        # lose set-user-id bits and other accounts' write access.
        member.name = member.name.lstrip("/")
        if ".." in PurePosixPath(member.name).parts:
            raise tarfile.TarError(f"{member.name!r} would be extracted outside the folder")
        member.mode &= 0o755
    archive.extractall(staging, members)


def install(staging: Path, uploads: Path, service: str) -> Path:
    """Move an unpacked package to `uploads/<service>`, replacing the previous upload of that service."""
    target = uploads / service
    previous = uploads / f".previous-{service}-{uuid.uuid4().hex}"
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target
