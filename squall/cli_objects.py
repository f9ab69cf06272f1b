"""The `squall object` commands: buckets and objects of a server's object store.

They talk to the server through the SDK (`squall.sdk.objects`), so uploads
and downloads stream instead of passing through memory whole. Objects are
named BUCKET/KEY, as in `squall object get photos/cats/tom.jpg tom.jpg`.
"""

from __future__ import annotations

import dataclasses
import json
import mimetypes
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.table import Table

from squall.cli_output import MISSING, print_table
from squall.sdk.client import Client, RemoteError
from squall.sdk.objects import Bucket, CommonPrefix, ObjectInfo, create_bucket, delete_bucket, list_buckets

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_DATA = ".squall"
COPY_CHUNK_BYTES = 1024 * 1024
STDIO = "-"


def _fail(message: str) -> NoReturn:
    # squall.cli imports this module to register the group, so its helpers are imported when a command runs.
    from squall.cli import CommandFailed

    raise CommandFailed(message)


def _client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --endpoint, --token and --data, as the other `squall` client commands take them."""
    command = click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="SQUALL_DATA",
        default=DEFAULT_DATA,
        show_default=True,
        help="Data folder whose 'token' file contains the server's token [env: SQUALL_DATA].",
    )(command)
    command = click.option(
        "--token",
        envvar="SQUALL_TOKEN",
        help="Bearer token for a server that requires one [env: SQUALL_TOKEN; else the data folder's 'token' file].",
    )(command)
    command = click.option(
        "--endpoint",
        envvar="SQUALL_ENDPOINT",
        default=DEFAULT_ENDPOINT,
        show_default=True,
        metavar="URL",
        help="URL of the Squall server [env: SQUALL_ENDPOINT].",
    )(command)
    return command


def _open_client(ctx: click.Context, endpoint: str, token: str | None, data: Path) -> Client:
    from squall.cli import normalise_endpoint, read_credentials

    credentials = read_credentials(token, ctx.get_parameter_source("token"), data)
    try:
        return Client(normalise_endpoint(endpoint), credentials.token)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--endpoint'") from None


@contextmanager
def _reported(client: Client) -> Iterator[None]:
    """Turn the SDK's errors into one-line command failures."""
    try:
        yield
    except RemoteError as error:
        _fail(f"{error.code}: {error.message}")
    except ConnectionRefusedError:
        _fail(f"no Squall server is listening at {client.endpoint}: start one with `squall up`")
    except TimeoutError:
        _fail(f"the server at {client.endpoint} did not respond within {client.timeout_s:g} s")
    except (TypeError, ValueError) as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"request to {client.endpoint} failed: {error}")


def split_object_path(value: str, *, key_required: bool = True) -> tuple[str, str]:
    """Split BUCKET/KEY into its bucket and key; the key may contain further slashes."""
    bucket, _, key = value.partition("/")
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
@_client_options
@click.pass_context
def make_bucket(ctx: click.Context, bucket: str, endpoint: str, token: str | None, data: Path) -> None:
    """Create BUCKET (creating one that exists succeeds)."""
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        create_bucket(bucket, client)
    click.echo(f"created bucket {bucket}")


@group.command(name="rb")
@click.argument("bucket")
@_client_options
@click.pass_context
def remove_bucket(ctx: click.Context, bucket: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete BUCKET, which must be empty."""
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        delete_bucket(bucket, client)
    click.echo(f"deleted bucket {bucket}")


@group.command(name="ls")
@click.argument("path", required=False, metavar="[BUCKET[/PREFIX]]")
@click.option("--recursive", "-r", is_flag=True, help="List every key under the prefix instead of grouping at '/'.")
@_client_options
@click.pass_context
def list_command(
    ctx: click.Context, path: str | None, recursive: bool, endpoint: str, token: str | None, data: Path
) -> None:
    """List buckets, or the objects of BUCKET whose keys start with PREFIX.

    Keys are grouped at the next '/' after PREFIX, as folders, unless --recursive is given.
    """
    client = _open_client(ctx, endpoint, token, data)
    if path is None:
        with _reported(client):
            buckets = list_buckets(client)
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
    if not entries:
        click.echo(f"no objects in {bucket} with keys starting {prefix!r}" if prefix else f"bucket {bucket} is empty")
        return
    print_table(objects_table(entries))


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
@_client_options
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
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        if str(file) == STDIO:
            info = Bucket(bucket, client).put(key, sys.stdin.buffer, content_type=content_type)
        else:
            with file.open("rb") as stream:
                info = Bucket(bucket, client).put(key, stream, content_type=content_type)
    _echo_json(info)


@group.command(name="get")
@click.argument("source", metavar="BUCKET/KEY")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@_client_options
@click.pass_context
def get_command(
    ctx: click.Context, source: str, file: Path | None, endpoint: str, token: str | None, data: Path
) -> None:
    """Download BUCKET/KEY into FILE (default: the key's last part in this folder; - for stdout)."""
    bucket, key = split_object_path(source)
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        if file is not None and str(file) == STDIO:
            with Bucket(bucket, client).open(key) as stream:
                shutil.copyfileobj(stream, sys.stdout.buffer, COPY_CHUNK_BYTES)
            sys.stdout.buffer.flush()
            return
        target = file if file is not None else Path(key.rstrip("/").rsplit("/", 1)[-1] or bucket)
        info = Bucket(bucket, client).download(key, target)
    click.echo(f"downloaded {bucket}/{key} ({info.size:,} bytes) to {target}", err=True)


@group.command(name="head")
@click.argument("source", metavar="BUCKET/KEY")
@_client_options
@click.pass_context
def head_command(ctx: click.Context, source: str, endpoint: str, token: str | None, data: Path) -> None:
    """Print the metadata of BUCKET/KEY as JSON."""
    bucket, key = split_object_path(source)
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        info = Bucket(bucket, client).head(key)
    _echo_json(info)


@group.command(name="rm")
@click.argument("target", metavar="BUCKET/KEY")
@_client_options
@click.pass_context
def remove_command(ctx: click.Context, target: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete BUCKET/KEY (deleting a missing key succeeds, as in S3)."""
    bucket, key = split_object_path(target)
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        Bucket(bucket, client).delete(key)
    click.echo(f"deleted {bucket}/{key}")


@group.command(name="cp")
@click.argument("source", metavar="BUCKET/KEY")
@click.argument("target", metavar="BUCKET/KEY")
@_client_options
@click.pass_context
def copy_command(ctx: click.Context, source: str, target: str, endpoint: str, token: str | None, data: Path) -> None:
    """Copy the object SOURCE to TARGET, both given as BUCKET/KEY, keeping its metadata."""
    src_bucket, src_key = split_object_path(source)
    dst_bucket, dst_key = split_object_path(target)
    client = _open_client(ctx, endpoint, token, data)
    with _reported(client):
        info = Bucket(src_bucket, client).copy(src_key, dst_key, dst_bucket=dst_bucket)
    _echo_json(info)
