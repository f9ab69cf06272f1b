"""The `squall object` commands: buckets and objects of a server's object store.

They talk to the server through the SDK (`squall.sdk.objects`), so uploads
and downloads stream instead of passing through memory whole. Objects are
named BUCKET/KEY, as in `squall object get photos/cats/tom.jpg tom.jpg`.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import mimetypes
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from squall.cli_client import (
    CommandFailed,
    check_no_server_running,
    client_options,
    ensure_data_folder,
    fail,
    is_foreign_error,
    no_server_message,
    not_squall_message,
    open_sdk_client,
)
from squall.cli_output import MISSING, output_option, print_json_document, print_table
from squall.sdk.client import Client, RemoteError
from squall.sdk.objects import Bucket, CommonPrefix, ObjectInfo, create_bucket, delete_bucket, list_buckets

COPY_CHUNK_BYTES = 1024 * 1024
STDIO = "-"


@contextmanager
def _reported(client: Client) -> Iterator[None]:
    """Turn the SDK's errors into one-line command failures."""
    try:
        yield
    except RemoteError as error:
        if is_foreign_error(error):
            fail(not_squall_message(client.endpoint, error.status))
        fail(f"{error.code}: {error.message}")
    except ConnectionRefusedError:
        fail(no_server_message(client.endpoint))
    except TimeoutError:
        fail(f"the server at {client.endpoint} did not respond within {client.timeout_s:g} s")
    except (TypeError, ValueError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"request to {client.endpoint} failed: {error}")


def split_object_path(value: str, *, key_required: bool = True) -> tuple[str, str]:
    """Split BUCKET/KEY (or s3://BUCKET/KEY) into its bucket and key; the key may contain further slashes."""
    bucket, _, key = value.removeprefix("s3://").partition("/")
    if not bucket or (key_required and not key):
        raise click.BadParameter(f"{value!r} is not an object path: expected BUCKET/KEY, such as photos/cats/tom.jpg")
    return bucket, key


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(dataclasses.asdict(value), indent=2, ensure_ascii=False))


def format_time(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))


@click.group(name="object", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Create buckets and put, get, list, copy and delete objects."""


@group.command(name="mb")
@click.argument("bucket")
@click.option(
    "--local",
    is_flag=True,
    help="Create it in the data folder (--data) directly, for a server that is not running yet, such as before "
    "the first `squall up` of a manifest whose event names an existing bucket.",
)
@client_options
@click.pass_context
def make_bucket(ctx: click.Context, bucket: str, local: bool, endpoint: str, token: str | None, data: Path) -> None:
    """Create BUCKET (creating one that exists succeeds)."""
    if local:
        _make_bucket_locally(data, bucket)
        return
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        create_bucket(bucket, client)
    click.echo(f"created bucket {bucket}")


def _make_bucket_locally(data: Path, bucket: str) -> None:
    """Create a bucket in the data folder's own object store, which a server started later serves."""
    from squall.services.errors import ServiceError
    from squall.services.hub import ServiceHub

    from squall.services.objects.validation import validate_bucket_name

    try:
        validate_bucket_name(bucket)
    except ServiceError as error:
        raise CommandFailed(f"{type(error).__name__}: {error}") from None
    ensure_data_folder(data)
    check_no_server_running(data)
    hub = ServiceHub(data / "services")
    try:
        hub.store("objects").create_bucket(bucket)
    except ServiceError as error:
        raise CommandFailed(f"{type(error).__name__}: {error}") from None
    finally:
        hub.close()
    click.echo(f"created bucket {bucket} in {data}")


@group.command(name="rb")
@click.argument("bucket")
@client_options
@click.pass_context
def remove_bucket(ctx: click.Context, bucket: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete BUCKET, which must be empty."""
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        delete_bucket(bucket, client)
    click.echo(f"deleted bucket {bucket}")


@group.command(name="ls")
@click.argument("path", required=False, metavar="[BUCKET[/PREFIX]]")
@click.option("--recursive", "-r", is_flag=True, help="List every key under the prefix instead of grouping at '/'.")
@output_option(
    "table for reading; json for scripts: one document, {\"buckets\": [...]} without BUCKET, else"
    " {\"bucket\", \"prefix\", \"objects\": [...], \"common_prefixes\": [...]} with sizes in bytes"
    " and times in epoch seconds."
)
@client_options
@click.pass_context
def list_command(
    ctx: click.Context, path: str | None, recursive: bool, output: str, endpoint: str, token: str | None, data: Path
) -> None:
    """List buckets, or the objects of BUCKET whose keys start with PREFIX.

    Keys are grouped at the next '/' after PREFIX, as folders, unless --recursive is given.
    """
    client = open_sdk_client(ctx, endpoint, token, data)
    if path is None:
        with _reported(client):
            buckets = list_buckets(client)
        if output == "json":
            print_json_document({"buckets": [dataclasses.asdict(info) for info in buckets]})
            return
        if not buckets:
            click.echo("no buckets: create one with `squall object mb BUCKET`")
            return
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("BUCKET", no_wrap=True)
        table.add_column("CREATED", no_wrap=True)
        for info in buckets:
            table.add_row(info.name, format_time(info.created_at))
        print_table(table)
        return

    bucket, prefix = split_object_path(path, key_required=False)
    with _reported(client):
        entries = list(Bucket(bucket, client).list(prefix=prefix, delimiter=None if recursive else "/"))
    if output == "json":
        print_json_document(objects_document(bucket, prefix, entries))
        return
    if not entries:
        click.echo(f"no objects in {bucket} with keys starting {prefix!r}" if prefix else f"bucket {bucket} is empty")
        return
    print_table(objects_table(entries))


def objects_document(bucket: str, prefix: str, entries: list[ObjectInfo | CommonPrefix]) -> dict[str, Any]:
    """Build the `squall object ls BUCKET --output json` document, with objects and common prefixes apart."""
    return {
        "bucket": bucket,
        "prefix": prefix,
        "objects": [dataclasses.asdict(entry) for entry in entries if isinstance(entry, ObjectInfo)],
        "common_prefixes": [entry.prefix for entry in entries if isinstance(entry, CommonPrefix)],
    }


def objects_table(entries: list[ObjectInfo | CommonPrefix]) -> Table:
    """Build the `squall object ls BUCKET` table: one row per object or common prefix."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("LAST MODIFIED", no_wrap=True)
    table.add_column("SIZE", justify="right", no_wrap=True)
    table.add_column("KEY", overflow="fold")
    for entry in entries:
        if isinstance(entry, CommonPrefix):
            table.add_row(MISSING, "PRE", entry.prefix)
        else:
            table.add_row(format_time(entry.last_modified), f"{entry.size:,}", entry.key)
    return table


@group.command(name="put")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.argument("target", metavar="BUCKET/KEY")
@click.option("--content-type", help="Media type to store, such as image/png [default: guessed from FILE's name].")
@client_options
@click.pass_context
def put_command(
    ctx: click.Context, file: Path, target: str, content_type: str | None, endpoint: str, token: str | None, data: Path
) -> None:
    """Upload FILE (- for stdin) to BUCKET/KEY; a KEY ending in '/' gets FILE's name appended."""
    bucket, key = split_object_path(target, key_required=str(file) == STDIO)
    if not key or key.endswith("/"):
        key += file.name
    if content_type is None and str(file) != STDIO:
        content_type = mimetypes.guess_type(file.name)[0]
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        if str(file) == STDIO:
            info = Bucket(bucket, client).put(key, sys.stdin.buffer, content_type=content_type)
        else:
            with file.open("rb") as stream:
                info = Bucket(bucket, client).put(key, stream, content_type=content_type)
    _echo_json(info)


@group.command(name="get")
@click.argument("source", metavar="BUCKET/KEY")
@click.argument("file", required=False, type=click.Path(allow_dash=True, path_type=Path))
@client_options
@click.pass_context
def get_command(
    ctx: click.Context, source: str, file: Path | None, endpoint: str, token: str | None, data: Path
) -> None:
    """Download BUCKET/KEY into FILE (default: the key's last part in this folder; - for stdout).

    A FILE that is a folder gets the key's last part inside it, as `cp` and `aws s3 cp` do.
    """
    bucket, key = split_object_path(source)
    to_stdout = file is not None and str(file) == STDIO
    last_part = Path(key.rstrip("/").rsplit("/", 1)[-1] or bucket)
    target = file if file is not None else last_part
    if file is not None and file.is_dir():
        target = file / last_part
    if not to_stdout:
        check_download_target(target)
    client = open_sdk_client(ctx, endpoint, token, data)
    if to_stdout:
        try:
            writer = _StdoutWriter()
            with _reported(client), Bucket(bucket, client).open(key) as stream:
                shutil.copyfileobj(stream, writer, COPY_CHUNK_BYTES)
                writer.flush()
        except _StdoutClosed:
            # A reader such as `head` stopped early: Click ends the command quietly, as for other commands.
            raise BrokenPipeError(errno.EPIPE, "stdout closed") from None
        return
    with _reported(client):
        try:
            info = Bucket(bucket, client).download(key, target)
        except OSError as error:
            if error.filename is None:
                raise  # a network error, which _reported describes
            # The download writes FILE.part first, so name the file the user gave instead.
            fail(f"cannot write {target}: {error.strerror or error}")
    click.echo(f"downloaded {bucket}/{key} ({info.size:,} bytes) to {target}", err=True)


class _StdoutClosed(Exception):
    """Raised when the reader of stdout has closed it, so that _reported does not take it for a network error."""


class _StdoutWriter:
    """A file-like writer to stdout's bytes that raises _StdoutClosed for a broken pipe."""

    def write(self, chunk: bytes) -> int:
        try:
            return sys.stdout.buffer.write(chunk)
        except BrokenPipeError:
            raise _StdoutClosed from None

    def flush(self) -> None:
        try:
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise _StdoutClosed from None


def check_download_target(target: Path) -> None:
    """Raise click.BadParameter when FILE cannot be written because of its folder, before any request is sent."""
    folder = target.parent
    if not folder.exists():
        raise click.BadParameter(
            f"cannot write {target}: the folder {folder} does not exist; create it first, or choose another FILE",
            param_hint="'FILE'",
        )
    if not folder.is_dir():
        raise click.BadParameter(f"cannot write {target}: {folder} is not a folder", param_hint="'FILE'")
    if target.is_dir():
        raise click.BadParameter(
            f"cannot write {target}: it is a folder; name a file such as {target / 'object.bin'}", param_hint="'FILE'"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(
            f"cannot write {target}: the folder {folder} is not writable; choose another FILE", param_hint="'FILE'"
        )


@group.command(name="head")
@click.argument("source", metavar="BUCKET/KEY")
@output_option(
    "Only json: the metadata is always one JSON document, and the option is accepted for scripts.",
    formats=("json",),
    default="json",
)
@client_options
@click.pass_context
def head_command(ctx: click.Context, source: str, output: str, endpoint: str, token: str | None, data: Path) -> None:
    """Print the metadata of BUCKET/KEY as JSON."""
    bucket, key = split_object_path(source)
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        info = Bucket(bucket, client).head(key)
    _echo_json(info)


@group.command(name="rm")
@click.argument("target", metavar="BUCKET/KEY")
@client_options
@click.pass_context
def remove_command(ctx: click.Context, target: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete BUCKET/KEY (deleting a missing key succeeds, as in S3)."""
    bucket, key = split_object_path(target)
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        Bucket(bucket, client).delete(key)
    click.echo(f"deleted {bucket}/{key}")


@group.command(name="cp")
@click.argument("source", metavar="BUCKET/KEY")
@click.argument("target", metavar="BUCKET/KEY")
@client_options
@click.pass_context
def copy_command(ctx: click.Context, source: str, target: str, endpoint: str, token: str | None, data: Path) -> None:
    """Copy the object SOURCE to TARGET, both given as BUCKET/KEY, keeping its metadata."""
    src_bucket, src_key = split_object_path(source)
    dst_bucket, dst_key = split_object_path(target)
    client = open_sdk_client(ctx, endpoint, token, data)
    with _reported(client):
        info = Bucket(src_bucket, client).copy(src_key, dst_key, dst_bucket=dst_bucket)
    _echo_json(info)
