"""The `squall stream` commands: create, list, describe and delete streams, put and read records.

They call the stream service's operations through the server's HTTP API
(`POST /_squall/api/services/streams/OPERATION`), with the same --endpoint,
--token and --data options and the same error output as the other client
commands.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from squall.cli_client import client_options, open_client
from squall.cli_output import MISSING, escape_line_breaks, output_option, print_json_document, print_table
from squall.services.streams.model import MAX_READ_LIMIT

if TYPE_CHECKING:
    from squall.cli_client import ApiClient

SERVICE_PATH = "/_squall/api/services/streams"
FIRST_SHARD_ID = "shardId-000000000000"
DEFAULT_READ_LIMIT = 100
START_POSITIONS = {"trim_horizon": "TRIM_HORIZON", "latest": "LATEST"}


def call(client: ApiClient, operation: str, **arguments: Any) -> Any:
    """Run one stream operation on the server and return its result."""
    body = {name: value for name, value in arguments.items() if value is not None}
    response = client.send("POST", f"{SERVICE_PATH}/{operation}", json_body=body)
    return client.decode_json(response).get("result")


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group(name="stream", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Create streams, put records into them and read records by shard."""


@group.command()
@click.argument("name")
# The server checks both ranges, so its limits stay in one place.
@click.option("--shards", type=int, default=1, show_default=True, help="Number of shards, from 1 to 500.")
@click.option("--retention-h", type=int, default=24, show_default=True, help="Hours a record is kept, from 24 to 8760.")
@client_options
@click.pass_context
def create(
    ctx: click.Context, name: str, shards: int, retention_h: int, endpoint: str, token: str | None, data: Path
) -> None:
    """Create the stream NAME and print its description as JSON."""
    client = open_client(ctx, endpoint, token, data)
    print_json(call(client, "create_stream", stream=name, shard_count=shards, retention_h=retention_h))


@group.command(name="ls")
@output_option("table for reading; json for scripts: one document {\"streams\": [...]} with the fields of `describe`.")
@client_options
@click.pass_context
def list_command(ctx: click.Context, output: str, endpoint: str, token: str | None, data: Path) -> None:
    """List the streams with their shard counts and retention periods."""
    client = open_client(ctx, endpoint, token, data)
    names = call(client, "list_streams").get("streams") or []
    descriptions = []
    for name in names:
        try:
            descriptions.append(call(client, "describe_stream", stream=name))
        except click.ClickException as failure:
            # A stream deleted between the listing and its description is left out.
            if not failure.message.startswith("ResourceNotFoundException"):
                raise
    if output == "json":
        print_json_document({"streams": descriptions})
        return
    if not descriptions:
        click.echo("no streams")
        return
    print_table(streams_table(descriptions))


@group.command()
@click.argument("name")
@output_option(
    "Only json: the description is always one JSON document, and the option is accepted for scripts.",
    formats=("json",),
    default="json",
)
@client_options
@click.pass_context
def describe(ctx: click.Context, name: str, output: str, endpoint: str, token: str | None, data: Path) -> None:
    """Print the settings and shards of the stream NAME as JSON."""
    client = open_client(ctx, endpoint, token, data)
    print_json(call(client, "describe_stream", stream=name))


@group.command()
@click.argument("name")
@client_options
@click.pass_context
def delete(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete the stream NAME with all its records."""
    client = open_client(ctx, endpoint, token, data)
    call(client, "delete_stream", stream=name)
    click.echo(f"deleted stream {name}")


@group.command()
@click.argument("name")
@click.argument("record_data", metavar="DATA")
@click.option("--partition-key", "-k", required=True, help="Partition key; its MD5 hash picks the shard.")
@click.option("--explicit-hash-key", help="Decimal hash key that picks the shard in place of the partition key's hash.")
@click.option("--base64", "is_base64", is_flag=True, help="DATA is base64; put the bytes it decodes to.")
@client_options
@click.pass_context
def put(
    ctx: click.Context,
    name: str,
    record_data: str,
    partition_key: str,
    explicit_hash_key: str | None,
    is_base64: bool,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Put one record with DATA (UTF-8 text unless --base64) into the stream NAME.

    DATA "-" reads the record's bytes from standard input (base64 text with
    --base64). Prints the shard id and sequence number the record got, as JSON.
    """
    data_bytes = sys.stdin.buffer.read() if record_data == "-" else record_data.encode("utf-8", "surrogateescape")
    if is_base64:
        try:
            payload = base64.b64decode(data_bytes.strip(), validate=True)
        except (binascii.Error, ValueError):
            start = data_bytes[:40].decode("utf-8", "replace")
            raise click.BadParameter(f"{start!r} is not valid base64", param_hint="'DATA'") from None
    else:
        payload = data_bytes

    client = open_client(ctx, endpoint, token, data)
    result = call(
        client,
        "put_record",
        stream=name,
        data=base64.b64encode(payload).decode("ascii"),
        partition_key=partition_key,
        explicit_hash_key=explicit_hash_key,
    )
    print_json(result)


@group.command()
@click.argument("name")
@click.option("--shard", "shard_id", default=FIRST_SHARD_ID, show_default=True, help="Shard id to read.")
@click.option(
    "--from",
    "start",
    type=click.Choice(sorted(START_POSITIONS), case_sensitive=False),
    default="trim_horizon",
    show_default=True,
    help="Start at the oldest record kept (trim_horizon) or after the newest one (latest).",
)
@click.option(
    "--after",
    "after_sequence_number",
    metavar="SEQUENCE_NUMBER",
    help="Start just after this sequence number, such as the one printed by an earlier read; overrides --from.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_READ_LIMIT),
    default=DEFAULT_READ_LIMIT,
    show_default=True,
    help="Maximum number of records to print.",
)
@output_option(
    "table for reading; json for scripts: one document with \"records\" (data in base64, and as \"text\" when"
    " it is UTF-8) and the \"next_position\" to continue from."
)
@client_options
@click.pass_context
def read(
    ctx: click.Context,
    name: str,
    shard_id: str,
    start: str,
    after_sequence_number: str | None,
    limit: int,
    output: str,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Print records of one shard of the stream NAME as a table.

    Data is shown as text when it is printable UTF-8, else as base64, with
    line breaks and tabs written as \\n, \\r and \\t. The position to
    continue from goes to stderr.
    """
    if after_sequence_number is not None:
        position = {"type": "AFTER_SEQUENCE_NUMBER", "sequence_number": after_sequence_number}
    else:
        position = {"type": START_POSITIONS[start.lower()]}

    client = open_client(ctx, endpoint, token, data)
    result = call(client, "read", stream=name, shard_id=shard_id, position=position, limit=limit)

    records = result.get("records") or []
    if output == "json":
        # One document, as the read is one bounded batch and a script needs its next_position to page on.
        print_json_document({**result, "records": [{**record, "text": decode_text(record)} for record in records]})
        return
    if records:
        print_table(records_table(records))
    else:
        click.echo(f"no records in {shard_id} of stream {name} from this position")
    next_sequence_number = (result.get("next_position") or {}).get("sequence_number")
    if next_sequence_number:
        click.echo(f"continue with: --after {next_sequence_number}", err=True)


def streams_table(descriptions: Sequence[Mapping[str, Any]]) -> Table:
    """Build the `squall stream ls` table from describe_stream results."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NAME", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("SHARDS", justify="right", no_wrap=True)
    table.add_column("RETENTION", justify="right", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    for description in descriptions:
        table.add_row(
            Text(str(description.get("name", ""))),
            str(description.get("status", MISSING)),
            str(description.get("shard_count", MISSING)),
            f"{description.get('retention_h', MISSING)} h",
            format_time(description.get("created_at")),
        )
    return table


def records_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """Build the `squall stream read` table; DATA is text when the bytes are UTF-8, else base64."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("SEQUENCE NUMBER", no_wrap=True)
    table.add_column("PARTITION KEY", overflow="fold")
    table.add_column("ARRIVED", no_wrap=True)
    table.add_column("ENCODING", no_wrap=True)
    table.add_column("DATA", overflow="fold")
    for record in records:
        encoding, displayed = show_data(str(record.get("data", "")))
        table.add_row(
            str(record.get("sequence_number", "")),
            # Text, not a markup string, so that "[bold]" in user data prints as typed.
            Text(escape_line_breaks(str(record.get("partition_key", "")))),
            format_time(record.get("approximate_arrival_timestamp")),
            encoding,
            Text(escape_line_breaks(displayed)),
        )
    return table


def show_data(encoded: str) -> tuple[str, str]:
    """Return ("text", the text) when base64 `encoded` decodes to printable UTF-8, else ("base64", `encoded`).

    Control characters other than tab and line breaks count as binary, because
    a terminal would act on them instead of showing them.
    """
    try:
        text = base64.b64decode(encoded).decode("utf-8")
    except (binascii.Error, ValueError):
        # UnicodeDecodeError is a ValueError too.
        return "base64", encoded
    if all(character.isprintable() or character in "\t\n\r" for character in text):
        return "text", text
    return "base64", encoded


def decode_text(record: Mapping[str, Any]) -> str | None:
    """Return a record's data decoded as UTF-8, or None when its bytes are not UTF-8."""
    try:
        return base64.b64decode(str(record.get("data", ""))).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def format_time(epoch_s: Any) -> str:
    """Format epoch seconds as a UTC time with milliseconds, or MISSING."""
    if not isinstance(epoch_s, int | float):
        return MISSING
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
