"""The `squall secret` commands: set, list and delete the secrets functions reference as `${secret:NAME}`.

A value is read from standard input or a file, never from the command line,
where it would be kept in the shell's history and shown by `ps`.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

import click

from squall.cli_client import CommandFailed, check_no_server_running, client_options, ensure_data_folder, open_client
from squall.cli_output import plain_table, print_table
from squall.secrets import InvalidSecretName, InvalidSecretValue, check_secret_name, check_secret_value

API_PATH = "/_squall/api/secrets"


@click.group(name="secret")
def group() -> None:
    """Manage the secrets that functions reference as ${secret:NAME} in their environment."""


@group.command(name="set")
@click.argument("name")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the value from this file instead of standard input.",
)
@click.option("--keep-newline", is_flag=True, help="Keep one trailing newline of the value; by default it is removed.")
@click.option(
    "--local",
    is_flag=True,
    help="Write into the data folder (--data) directly, for a server that is not running yet, such as before "
    "the first `squall up` of a manifest that uses the secret.",
)
@client_options
@click.pass_context
def set_command(ctx: click.Context, name: str, from_file: Path | None, keep_newline: bool, local: bool,
                endpoint: str, token: str | None, data: Path) -> None:
    """Create or replace secret NAME with a value read from standard input or --from-file.

    A terminal is prompted for the value without echoing it. Services whose
    functions reference the secret are deployed again, so that their new
    instances get the new value.
    """
    _check_name(name)
    if local:
        # Before the value is read, so that a prompt does not ask for a value that cannot be stored.
        ensure_data_folder(data)
        check_no_server_running(data)
    value = _read_value(from_file, keep_newline, name)
    try:
        check_secret_value(value)
    except InvalidSecretValue as error:
        raise CommandFailed(str(error)) from None

    if local:
        _set_locally(data, name, value)
        return
    client = open_client(ctx, endpoint, token, data)
    answer = client.decode_json(client.send("POST", f"{API_PATH}/set", json_body={"name": name, "value": value}))
    click.echo(f"{'created' if answer.get('created') else 'updated'} secret {name}")
    redeployed = answer.get("redeployed") or []
    if redeployed:
        click.echo(f"deployed again so that new instances get the new value: {', '.join(redeployed)}")
    failures: dict[str, str] = answer.get("redeploy_errors") or {}
    for service, message in failures.items():
        click.secho(f"service {service} still runs with the previous value: {message}", err=True, fg="yellow")


def _set_locally(data: Path, name: str, value: str) -> None:
    """Store a secret in the data folder's own store; a server started later reads it from there."""
    from squall.secrets.errors import SecretKeyError
    from squall.secrets.store import open_secret_store

    try:
        store = open_secret_store(data)
    except SecretKeyError as error:
        raise CommandFailed(str(error)) from None
    try:
        _, created = store.set(name, value)
    finally:
        store.close()
    click.echo(f"{'created' if created else 'updated'} secret {name} in {data}; a server started on it reads the value")


@group.command(name="ls")
@click.option(
    "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="A table to read, or one JSON document for scripts.",
)
@client_options
@click.pass_context
def list_command(ctx: click.Context, output: str, endpoint: str, token: str | None, data: Path) -> None:
    """List secret names and when each was last set; values are never shown."""
    secrets: list[dict[str, Any]] = open_client(ctx, endpoint, token, data).get_json(API_PATH).get("secrets") or []
    if output == "json":
        click.echo(json.dumps(secrets, indent=2))
        return
    if not secrets:
        click.echo("no secrets; create one with `squall secret set NAME`")
        return
    table = plain_table("secret", "updated")
    for secret in secrets:
        table.add_row(secret["name"], _format_time(secret["updated_at"]))
    print_table(table)


@group.command(name="rm")
@click.argument("name")
@client_options
@click.pass_context
def remove_command(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete secret NAME; rejected while a deployed function references it."""
    _check_name(name)
    client = open_client(ctx, endpoint, token, data)
    client.send("POST", f"{API_PATH}/delete", json_body={"name": name})
    click.echo(f"deleted secret {name}")


def _check_name(name: str) -> None:
    try:
        check_secret_name(name)
    except InvalidSecretName as error:
        raise click.BadParameter(str(error), param_hint="'NAME'") from None


def _read_value(from_file: Path | None, keep_newline: bool, name: str) -> str:
    """Read the value from the file, a hidden prompt on a terminal, or standard input, as UTF-8 text."""
    if from_file is not None:
        try:
            raw = from_file.read_bytes()
        except OSError as error:
            raise CommandFailed(f"cannot read the value of secret {name} from {from_file}: {error.strerror}") from None
        where = f"file {from_file}"
    elif sys.stdin.isatty():
        # The prompt strips nothing and the value has no trailing newline, so --keep-newline has nothing to keep.
        return click.prompt(f"Value of secret {name}", hide_input=True, confirmation_prompt=True)
    else:
        raw = sys.stdin.buffer.read()
        where = "standard input"

    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CommandFailed(
            f"the value of secret {name} in {where} is not UTF-8 text (invalid byte at offset {error.start})"
        ) from None
    if not value:
        raise CommandFailed(f"the value of secret {name} in {where} is empty: expected at least one character")
    # `echo value | squall secret set NAME` and most editors end the text with
    # a newline that is not part of the value.
    if not keep_newline and value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    return value


def _format_time(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
