"""The `squall queue` commands: create, list, purge and delete queues; send and receive messages.

They call the queue service's operations through the server's HTTP API
(`POST /_squall/api/services/queues/OPERATION`), with the same options and
error output as the other client commands.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from squall.cli_output import (
    MISSING,
    escape_line_breaks,
    output_option,
    plain_table,
    print_json_document,
    print_json_line,
    print_table,
)
from squall.cli_client import CommandFailed, client_options, open_client
from squall.services.queues.model import (
    MAX_DELAY_S,
    MAX_MESSAGES_PER_RECEIVE,
    MAX_RECEIVE_COUNT_LIMIT,
    MAX_RECEIVE_WAIT_S,
    MAX_VISIBILITY_TIMEOUT_S,
)

SERVICE_PATH = "/_squall/api/services/queues"


def call(client: Any, operation: str, **arguments: Any) -> Any:
    body = {name: value for name, value in arguments.items() if value is not None}
    response = client.send("POST", f"{SERVICE_PATH}/{operation}", json_body=body)
    return client.decode_json(response).get("result")


def read_body(value: str) -> str:
    """Return a message body given inline, as "@PATH", or as "-" for standard input."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        path = value[1:]
        try:
            with open(path, encoding="utf-8") as file:
                return file.read()
        except FileNotFoundError:
            raise click.BadParameter(f"file {path!r} does not exist", param_hint="'BODY'") from None
        except (OSError, UnicodeDecodeError) as error:
            raise click.BadParameter(f"cannot read file {path!r} as UTF-8 text: {error}", param_hint="'BODY'") from None
    return value


# The fields of a send that `queue send` takes as options, as whole words
# outside names: 'orders_group_id' names a queue and stays as it is.
_FIELD_OPTIONS = {"group_id": "--group-id", "dedup_id": "--dedup-id"}
_API_FIELD = re.compile(r"(?<![\w'\-.])(?:group_id|dedup_id)(?![\w'\-.])")


@click.group(name="queue")
def group() -> None:
    """Work with the platform's queues."""


@group.command()
@click.argument("name")
@click.option(
    "--visibility-timeout-s", type=click.IntRange(0, MAX_VISIBILITY_TIMEOUT_S),
    help="Seconds a received message stays hidden [default: 30].",
)
@click.option("--dead-letter", metavar="QUEUE", help="Queue that receives messages after --max-receive-count receives.")
@click.option(
    "--max-receive-count", type=click.IntRange(1, MAX_RECEIVE_COUNT_LIMIT),
    help="Receives after which a message moves to the --dead-letter queue [default: 5].",
)
@client_options
@click.pass_context
def create(ctx: click.Context, name: str, visibility_timeout_s: int | None, dead_letter: str | None,
           max_receive_count: int | None, endpoint: str, token: str | None, data: Any) -> None:
    """Create queue NAME (a name ending in .fifo makes a FIFO queue)."""
    if max_receive_count is not None and not dead_letter:
        # As in SQS, the count belongs to a redrive policy, which names its dead-letter queue.
        raise click.UsageError("--max-receive-count applies only with --dead-letter QUEUE, which names the queue"
                               " that receives the messages")
    settings: dict[str, Any] = {}
    if visibility_timeout_s is not None:
        settings["visibility_timeout_s"] = visibility_timeout_s
    if dead_letter:
        count = 5 if max_receive_count is None else max_receive_count
        settings["dead_letter"] = {"queue": dead_letter, "max_receive_count": count}
    created = call(open_client(ctx, endpoint, token, data), "create_queue", queue=name, settings=settings)
    click.echo(created["arn"])


@group.command(name="ls")
@output_option("table for reading; json for scripts: one document {\"queues\": [...]} with each queue's settings and stats.")
@client_options
@click.pass_context
def list_command(ctx: click.Context, output: str, endpoint: str, token: str | None, data: Any) -> None:
    """List queues with their message counts."""
    client = open_client(ctx, endpoint, token, data)
    queues = []
    for queue in call(client, "list_queues"):
        info = call(client, "get_queue", queue=queue["name"])
        queues.append({**queue, "stats": info["stats"]})

    if output == "json":
        print_json_document({"queues": queues})
        return
    table = plain_table("queue", "visible", "in flight", "delayed", "oldest (s)", "dead letter")
    for queue in queues:
        stats = queue["stats"]
        dead_letter = (queue["settings"].get("dead_letter") or {}).get("target", "")
        oldest = stats["oldest_age_s"]
        table.add_row(queue["name"], str(stats["visible"]), str(stats["in_flight"]), str(stats["delayed"]),
                      "" if oldest is None else f"{oldest:.0f}", dead_letter)
    print_table(table)


@group.command(name="delete")
@click.argument("name")
@client_options
@click.pass_context
def delete_command(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Any) -> None:
    """Delete queue NAME with its messages."""
    call(open_client(ctx, endpoint, token, data), "delete_queue", queue=name)
    click.echo(f"deleted queue {name}")


@group.command()
@click.argument("name")
@client_options
@click.pass_context
def purge(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Any) -> None:
    """Delete every message of queue NAME and keep the queue."""
    call(open_client(ctx, endpoint, token, data), "purge", queue=name)
    click.echo(f"purged queue {name}")


@group.command()
@click.argument("name")
@click.argument("body", metavar="BODY")
@click.option(
    "--delay-s", type=click.IntRange(0, MAX_DELAY_S),
    help="Seconds before the message can be received [default: the queue's delay].",
)
@click.option("--group-id", help="Message group of a FIFO queue.")
@click.option("--dedup-id", help="Deduplication id of a FIFO queue.")
@client_options
@click.pass_context
def send(ctx: click.Context, name: str, body: str, delay_s: int | None, group_id: str | None,
         dedup_id: str | None, endpoint: str, token: str | None, data: Any) -> None:
    """Send BODY to queue NAME and print the message id.

    BODY is the message text, "@PATH" for a file's content, or "-" for standard input.
    """
    body = read_body(body)
    try:
        sent = call(open_client(ctx, endpoint, token, data), "send", queue=name, body=body, delay_s=delay_s,
                    group_id=group_id, dedup_id=dedup_id)
    except CommandFailed as error:
        # The server names the API's fields; name the options this command took them from.
        error.message = _API_FIELD.sub(lambda match: _FIELD_OPTIONS[match.group(0)], error.message)
        raise
    click.echo(sent["message_id"])


@group.command()
@click.argument("name")
@click.option(
    "--max-messages", type=click.IntRange(1, MAX_MESSAGES_PER_RECEIVE), default=1, show_default=True,
    help="Maximum number of messages to receive.",
)
@click.option(
    "--wait-s", type=click.FloatRange(0, MAX_RECEIVE_WAIT_S), default=0, show_default=True,
    help="Seconds to wait for a first message.",
)
@click.option("--delete", "delete_after", is_flag=True, help="Delete each message once printed.")
# JSON lines stay the default because scripts written for earlier versions parse them.
@output_option(
    "json: one JSON object per message and line, with its receipt handle, message attributes and system"
    " attributes; table for reading.",
    default="json",
)
@client_options
@click.pass_context
def receive(ctx: click.Context, name: str, max_messages: int, wait_s: float, delete_after: bool, output: str,
            endpoint: str, token: str | None, data: Any) -> None:
    """Receive messages from queue NAME and print them, by default as JSON lines."""
    client = open_client(ctx, endpoint, token, data)
    messages = call(client, "receive", queue=name, max_messages=max_messages, wait_s=wait_s)

    if output == "table":
        if messages:
            print_table(messages_table(messages))
        else:
            click.echo(f"no messages received from queue {name}")
    for message in messages:
        # Each line is printed before its message is deleted, so a failed delete leaves a whole line behind.
        if output == "json":
            print_json_line(message)
        if delete_after:
            call(client, "delete", queue=name, receipt_handle=message["receipt_handle"])


def messages_table(messages: list[dict[str, Any]]) -> Table:
    """Build the `squall queue receive --output table` table; line breaks in bodies show as \\n."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("MESSAGE ID", no_wrap=True)
    table.add_column("RECEIVES", justify="right", no_wrap=True)
    table.add_column("BODY", overflow="fold")
    table.add_column("MESSAGE ATTRIBUTES", overflow="fold")
    for message in messages:
        attributes = message.get("message_attributes") or {}
        attribute_lines = [f"{name}={describe_attribute(value)}" for name, value in sorted(attributes.items())]
        table.add_row(
            str(message.get("message_id", "")),
            str((message.get("attributes") or {}).get("ApproximateReceiveCount", MISSING)),
            # Text, not a markup string, so that "[bold]" in a body prints as typed.
            Text(escape_line_breaks(str(message.get("body", "")))),
            Text("\n".join(escape_line_breaks(line) for line in attribute_lines) if attribute_lines else MISSING),
        )
    return table


def describe_attribute(attribute: dict[str, Any]) -> str:
    """Show a message attribute as its value, with the data type unless it is String: "3 (Number)"."""
    data_type = str(attribute.get("data_type", ""))
    if attribute.get("binary_value") is not None:
        return f"{attribute['binary_value']} ({data_type}, base64)"
    value = str(attribute.get("string_value", ""))
    return value if data_type == "String" else f"{value} ({data_type})"
