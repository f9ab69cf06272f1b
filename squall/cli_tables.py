"""The `squall table` commands: create and list tables, and read and write their items.

Items go in and come out as plain JSON: numbers are JSON numbers and keep
every digit, because they are read and printed as Decimals. Plain JSON has no
binary or set type, so binary values print as base64 strings and sets as
sorted arrays. The commands call the server through the SDK's `Table`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import click
from rich.table import Table as RichTable

from squall.cli_client import client_options, open_sdk_client, reporting_sdk_errors
from squall.cli_output import MISSING, output_option, print_json_document, print_table
from squall.sdk.client import RemoteError
from squall.sdk.tables import (
    DEFAULT_STREAM_VIEW_TYPE,
    STREAM_VIEW_TYPES,
    Table,
    TableDescription,
    create_table,
    delete_table,
    list_tables,
)

JSON_INDENT = "  "


def parse_json_argument(text: str | None, what: str, param_hint: str) -> Any:
    """Parse a JSON argument with its numbers as Decimal (exact) and check that it is an object."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"{what} {text!r} is not valid JSON: {error.msg} at column {error.colno}. Pass an object such as"
            ' \'{"id": "a", "count": 3}\'',
            param_hint=param_hint,
        ) from None
    if not isinstance(value, dict):
        raise click.BadParameter(f"{what} {text!r} is not a JSON object: pass an object such as '{{\"id\": \"a\"}}'",
                                 param_hint=param_hint)
    return value


def parse_key_option(text: str, option: str) -> tuple[str, str]:
    """Split NAME:TYPE of --partition-key or --sort-key; the server checks the name and type."""
    name, separator, kind = text.rpartition(":")
    if not separator or not name:
        raise click.BadParameter(f"{text!r} is invalid: use NAME:TYPE with TYPE one of S, N or B, such as id:S",
                                 param_hint=f"'{option}'")
    return (name, kind.upper())


def format_json(value: Any, depth: int = 0) -> str:
    """Format a value the SDK returned as indented JSON, numbers with every digit.

    The json module cannot write a Decimal as a number without a detour
    through float, which drops digits past the 17th, so this writer does it.
    """
    indent = JSON_INDENT * (depth + 1)
    closing = JSON_INDENT * depth
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return _format_number(value)
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, bytes):
        return json.dumps(base64.b64encode(value).decode("ascii"))
    if isinstance(value, set | frozenset):
        value = sorted(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        elements = [indent + format_json(element, depth + 1) for element in value]
        return "[\n" + ",\n".join(elements) + "\n" + closing + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        members = [f"{indent}{json.dumps(key, ensure_ascii=False)}: {format_json(element, depth + 1)}"
                   for key, element in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + closing + "}"
    raise TypeError(f"cannot format {type(value).__name__} value {value!r} as JSON")


def _format_number(number: Decimal) -> str:
    # Integral values print without an exponent, so 1E+2 prints as 100. Others
    # keep Decimal's own form, whose "1.5E-7" is also a valid JSON number.
    if number == number.to_integral_value():
        return str(int(number))
    return str(number)


def describe_keys(description: TableDescription) -> str:
    """Describe a table's key attributes in one line, such as "customer (S), order (N)"."""
    keys = [description.partition_key, description.sort_key]
    return ", ".join(f"{key.name} ({key.type})" for key in keys if key is not None)


def tables_table(descriptions: list[TableDescription]) -> RichTable:
    """Build the `squall table ls` table."""
    table = RichTable(box=None, pad_edge=False, header_style="bold")
    table.add_column("NAME", no_wrap=True)
    table.add_column("PARTITION KEY", no_wrap=True)
    table.add_column("SORT KEY", no_wrap=True)
    table.add_column("TTL ATTRIBUTE", no_wrap=True)
    table.add_column("ITEMS", justify="right", no_wrap=True)
    table.add_column("SIZE", justify="right", no_wrap=True)
    for description in descriptions:
        sort_key = description.sort_key
        table.add_row(
            description.name,
            f"{description.partition_key.name} ({description.partition_key.type})",
            f"{sort_key.name} ({sort_key.type})" if sort_key is not None else MISSING,
            description.ttl_attribute or MISSING,
            f"{description.item_count:,}",
            f"{description.size_bytes:,} B",
        )
    return table


@click.group(name="table", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Create tables (DynamoDB item model) and read and write their items as JSON."""


@group.command(name="create")
@click.argument("name")
@click.option(
    "--partition-key", required=True, metavar="NAME:TYPE", help="Partition key attribute, where TYPE is S, N or B."
)
@click.option("--sort-key", metavar="NAME:TYPE", help="Sort key attribute, where TYPE is S, N or B.")
@click.option("--ttl-attribute", metavar="NAME", help="Attribute whose epoch seconds say when an item expires.")
@click.option(
    "--stream-view-type",
    type=click.Choice(STREAM_VIEW_TYPES, case_sensitive=False),
    # Written out, because click lists the choices of a case-insensitive Choice in lower case.
    metavar="[" + "|".join(STREAM_VIEW_TYPES) + "]",
    default=DEFAULT_STREAM_VIEW_TYPE,
    show_default=True,
    help="What each change record carries besides the keys: no image, the item after or before the write, or both.",
)
@click.option("--no-stream", is_flag=True, help="Create the table without a change stream, so no trigger can read its changes.")
@client_options
@click.pass_context
def create_command(ctx: click.Context, name: str, partition_key: str, sort_key: str | None,
                   ttl_attribute: str | None, stream_view_type: str, no_stream: bool,
                   endpoint: str, token: str | None, data: Path) -> None:
    """Create table NAME. An existing table with the same settings is left as it is."""
    partition = parse_key_option(partition_key, "--partition-key")
    sort = parse_key_option(sort_key, "--sort-key") if sort_key is not None else None
    if no_stream and ctx.get_parameter_source("stream_view_type") is click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter("a table without a stream has no view type: drop one of the two options",
                                 param_hint="'--stream-view-type' / '--no-stream'")
    view_type = None if no_stream else stream_view_type.upper()
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        description = create_table(
            name, partition, sort, ttl_attribute, client=client, stream_view_type=view_type
        ).describe()
    ttl = f", TTL attribute {description.ttl_attribute}" if description.ttl_attribute else ""
    stream = f"stream {description.stream_view_type}" if description.stream_view_type else "no stream"
    click.echo(f"table {description.name}: key {describe_keys(description)}{ttl}, {stream}")


@group.command(name="ls")
@output_option("table for reading; json for scripts: one document {\"tables\": [...]} with the fields of `describe`.")
@client_options
@click.pass_context
def list_command(ctx: click.Context, output: str, endpoint: str, token: str | None, data: Path) -> None:
    """List the tables with their keys, item counts and sizes."""
    client = open_sdk_client(ctx, endpoint, token, data)
    descriptions = []
    with reporting_sdk_errors(client):
        for name in list_tables(client):
            try:
                descriptions.append(Table(name, client).describe())
            except RemoteError as error:
                # A table deleted between the listing and its description is skipped.
                if error.status != 404:
                    raise
    if output == "json":
        print_json_document({"tables": [dataclasses.asdict(description) for description in descriptions]})
        return
    if not descriptions:
        click.echo("no tables: create one with `squall table create NAME --partition-key id:S`")
        return
    print_table(tables_table(descriptions))


@group.command(name="describe")
@click.argument("name")
@output_option(
    "Only json: the description is always one JSON document, and the option is accepted for scripts.",
    formats=("json",),
    default="json",
)
@client_options
@click.pass_context
def describe_command(ctx: click.Context, name: str, output: str, endpoint: str, token: str | None,
                     data: Path) -> None:
    """Print the settings, item count and size of table NAME as JSON."""
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        description = Table(name, client).describe()
    print_json_document(dataclasses.asdict(description))


@group.command(name="drop")
@click.argument("name")
@client_options
@click.pass_context
def drop_command(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete table NAME with all its items."""
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        delete_table(name, client)
    click.echo(f"deleted table {name}")


@group.command(name="put")
@click.argument("name")
@click.argument("item")
@click.option("--condition", metavar="EXPR", help="Condition expression that must hold for the stored item.")
@click.option("--names", metavar="JSON", help='Expression attribute names, such as \'{"#s": "status"}\'.')
@click.option("--values", metavar="JSON", help='Expression attribute values, such as \'{":v": 3}\'.')
@client_options
@click.pass_context
def put_command(ctx: click.Context, name: str, item: str, condition: str | None, names: str | None,
                values: str | None, endpoint: str, token: str | None, data: Path) -> None:
    """Write ITEM, a JSON object, to table NAME, replacing an item with the same key."""
    parsed = parse_json_argument(item, "item", "'ITEM'")
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        Table(name, client).put(
            parsed,
            condition=condition,
            names=parse_json_argument(names, "--names", "'--names'"),
            values=parse_json_argument(values, "--values", "'--values'"),
        )
    click.echo(f"stored the item in table {name}")


@group.command(name="get")
@click.argument("name")
@click.argument("key")
@click.option("--projection", metavar="EXPR", help="Attributes to return, such as 'id, total'.")
@client_options
@click.pass_context
def get_command(ctx: click.Context, name: str, key: str, projection: str | None,
                endpoint: str, token: str | None, data: Path) -> None:
    """Print the item of table NAME whose key is KEY, a JSON object.

    \b
    Exit status:
      0  the item was printed, or no item has this key. For a missing item
         stdout stays empty and a note goes to stderr, because `aws
         dynamodb get-item` also prints nothing and exits 0 for one.
      1  the request failed, such as for a missing table or a key that
         does not match the table's key attributes.
      2  the arguments are invalid.
    """
    parsed = parse_json_argument(key, "key", "'KEY'")
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        found = Table(name, client).get(parsed, projection=projection)
    if found is None:
        click.echo(f"no item with key {key} in table {name}", err=True)
        return
    click.echo(format_json(found))


@group.command(name="delete")
@click.argument("name")
@click.argument("key")
@click.option("--condition", metavar="EXPR", help="Condition expression that must hold for the stored item.")
@click.option("--names", metavar="JSON", help="Expression attribute names, as a JSON object.")
@click.option("--values", metavar="JSON", help="Expression attribute values, as a JSON object.")
@client_options
@click.pass_context
def delete_command(ctx: click.Context, name: str, key: str, condition: str | None, names: str | None,
                   values: str | None, endpoint: str, token: str | None, data: Path) -> None:
    """Delete the item of table NAME whose key is KEY and print it. A missing item is not an error."""
    parsed = parse_json_argument(key, "key", "'KEY'")
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        old = Table(name, client).delete(
            parsed,
            condition=condition,
            names=parse_json_argument(names, "--names", "'--names'"),
            values=parse_json_argument(values, "--values", "'--values'"),
            return_old=True,
        )
    if old is None:
        click.echo(f"no item with key {key} in table {name}: nothing deleted", err=True)
        return
    click.echo(format_json(old))


@group.command(name="update")
@click.argument("name")
@click.argument("key")
@click.option("--expression", required=True, metavar="EXPR", help="Update expression, such as 'SET n = n + :one'.")
@click.option("--condition", metavar="EXPR", help="Condition expression that must hold for the stored item.")
@click.option("--names", metavar="JSON", help="Expression attribute names, as a JSON object.")
@click.option("--values", metavar="JSON", help="Expression attribute values, as a JSON object.")
@client_options
@click.pass_context
def update_command(ctx: click.Context, name: str, key: str, expression: str, condition: str | None,
                   names: str | None, values: str | None, endpoint: str, token: str | None, data: Path) -> None:
    """Apply an update expression to the item of table NAME whose key is KEY, and print the new item."""
    parsed = parse_json_argument(key, "key", "'KEY'")
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        new = Table(name, client).update(
            parsed,
            expression,
            condition=condition,
            names=parse_json_argument(names, "--names", "'--names'"),
            values=parse_json_argument(values, "--values", "'--values'"),
            return_values="ALL_NEW",
        )
    click.echo(format_json(new))


@group.command(name="query")
@click.argument("name")
@click.option("--key-condition", required=True, metavar="EXPR", help="Key condition, such as 'id = :id'.")
@click.option("--values", required=True, metavar="JSON", help='Expression attribute values, such as \'{":id": "a"}\'.')
@click.option("--names", metavar="JSON", help="Expression attribute names, as a JSON object.")
@click.option("--filter", "filter_expression", metavar="EXPR", help="Filter expression applied to each item read.")
@click.option("--limit", type=click.IntRange(1), help="Maximum number of items to print.")
@click.option("--descending", is_flag=True, help="Read the partition in descending sort-key order.")
@client_options
@click.pass_context
def query_command(ctx: click.Context, name: str, key_condition: str, values: str, names: str | None,
                  filter_expression: str | None, limit: int | None, descending: bool,
                  endpoint: str, token: str | None, data: Path) -> None:
    """Print the items of one partition of table NAME as a JSON array, reading every page."""
    options = {
        "values": parse_json_argument(values, "--values", "'--values'"),
        "names": parse_json_argument(names, "--names", "'--names'"),
        "filter": filter_expression,
        "forward": not descending,
        "limit": limit,
    }
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        items = list(islice(Table(name, client).query_all(key_condition, **options), limit))
    click.echo(format_json(items))


@group.command(name="scan")
@click.argument("name")
@click.option("--filter", "filter_expression", metavar="EXPR", help="Filter expression applied to each item read.")
@click.option("--names", metavar="JSON", help="Expression attribute names, as a JSON object.")
@click.option("--values", metavar="JSON", help="Expression attribute values, as a JSON object.")
@click.option("--limit", type=click.IntRange(1), help="Maximum number of items to print.")
@client_options
@click.pass_context
def scan_command(ctx: click.Context, name: str, filter_expression: str | None, names: str | None,
                 values: str | None, limit: int | None, endpoint: str, token: str | None, data: Path) -> None:
    """Print all the items of table NAME, in key order, as a JSON array."""
    options = {
        "values": parse_json_argument(values, "--values", "'--values'"),
        "names": parse_json_argument(names, "--names", "'--names'"),
        "filter": filter_expression,
        "limit": limit,
    }
    client = open_sdk_client(ctx, endpoint, token, data)
    with reporting_sdk_errors(client):
        items = list(islice(Table(name, client).scan_all(**options), limit))
    click.echo(format_json(items))

