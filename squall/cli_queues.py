"""The `squall queue` commands: create, list, send, receive and delete messages.

They call the queue service's operations through the server's HTTP API
(`POST /_squall/api/services/queues/OPERATION`), with the same options and
error output as the other client commands.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.table import Table

from squall.cli_output import print_table
from squall.cli_client import client_options, open_client

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


@click.group(name="queue")
def group() -> None:
    """Work with the platform's queues."""


@group.command()
@click.argument("name")
@click.option("--visibility-timeout-s", type=int, help="Seconds a received message stays hidden (default 30).")
@click.option("--dead-letter", metavar="QUEUE", help="Queue that receives messages after --max-receive-count receives.")
@click.option("--max-receive-count", type=int, default=5, show_default=True)
@client_options
@click.pass_context
def create(ctx: click.Context, name: str, visibility_timeout_s: int | None, dead_letter: str | None,
           max_receive_count: int, endpoint: str, token: str | None, data: Any) -> None:
    """Create queue NAME (a name ending in .fifo makes a FIFO queue)."""
    settings: dict[str, Any] = {}
    if visibility_timeout_s is not None:
        settings["visibility_timeout_s"] = visibility_timeout_s
    if dead_letter:
        settings["dead_letter"] = {"queue": dead_letter, "max_receive_count": max_receive_count}
    created = call(open_client(ctx, endpoint, token, data), "create_queue", queue=name, settings=settings)
    click.echo(created["arn"])


@group.command(name="ls")
@client_options
@click.pass_context
def list_command(ctx: click.Context, endpoint: str, token: str | None, data: Any) -> None:
    """List queues with their message counts."""
    client = open_client(ctx, endpoint, token, data)
    table = Table("queue", "visible", "in flight", "delayed", "oldest (s)", "dead letter")
    for queue in call(client, "list_queues"):
        info = call(client, "get_queue", queue=queue["name"])
        stats = info["stats"]
        dead_letter = (queue["settings"].get("dead_letter") or {}).get("target", "")
        oldest = stats["oldest_age_s"]
        table.add_row(queue["name"], str(stats["visible"]), str(stats["in_flight"]), str(stats["delayed"]),
                      "" if oldest is None else f"{oldest:.0f}", dead_letter)
    print_table(table)


@group.command()
@click.argument("name")
@click.argument("body", metavar="BODY")
@click.option("--delay-s", type=int, help="Seconds before the message can be received.")
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
    sent = call(open_client(ctx, endpoint, token, data), "send", queue=name, body=body, delay_s=delay_s,
                group_id=group_id, dedup_id=dedup_id)
    click.echo(sent["message_id"])


@group.command()
@click.argument("name")
@click.option("--max-messages", type=int, default=1, show_default=True)
@click.option("--wait-s", type=float, default=0, show_default=True, help="Seconds to wait for a first message.")
@click.option("--delete", "delete_after", is_flag=True, help="Delete each message once printed.")
@client_options
@click.pass_context
def receive(ctx: click.Context, name: str, max_messages: int, wait_s: float, delete_after: bool,
            endpoint: str, token: str | None, data: Any) -> None:
    """Receive messages from queue NAME and print them as JSON lines."""
    client = open_client(ctx, endpoint, token, data)
    messages = call(client, "receive", queue=name, max_messages=max_messages, wait_s=wait_s)
    for message in messages:
        click.echo(json.dumps({"message_id": message["message_id"], "body": message["body"],
                               "receipt_handle": message["receipt_handle"]}))
        if delete_after:
            call(client, "delete", queue=name, receipt_handle=message["receipt_handle"])
