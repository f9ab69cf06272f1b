"""The `squall publish`, `squall versions` and `squall alias` commands: function versions and aliases.

Register `publish`, `versions` and `group` (the `alias` group) on the root CLI.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from squall.cli_client import CommandFailed, client_options, open_client
from squall.cli_output import plain_table, print_table

API_PATH = "/_squall/api"


@click.command(name="publish")
@click.argument("name")
@click.option("--description", default="", help="A note stored with the version.")
@client_options
@click.pass_context
def publish(ctx: click.Context, name: str, description: str, endpoint: str, token: str | None, data: Path) -> None:
    """Publish the deployed code and settings of function NAME as its next version.

    Publishing again without a deploy in between returns the same version.
    """
    client = open_client(ctx, endpoint, token, data)
    body = {"function": name, "description": description}
    answer = client.decode_json(client.send("POST", f"{API_PATH}/publish", json_body=body))
    if answer.get("created", True):
        click.echo(f"published {name} version {answer['version']}")
    else:
        click.echo(f"{name} is unchanged since version {answer['version']}, which stays as published"
                   + (f" ({answer['description']})" if answer.get("description") else ""))


@click.command(name="versions")
@click.argument("name")
@client_options
@click.pass_context
def versions(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Path) -> None:
    """List the published versions of function NAME and its aliases."""
    client = open_client(ctx, endpoint, token, data)
    answer = client.get_json(f"{API_PATH}/versions", params={"function": name})
    table = plain_table("version", "code", "published", "description")
    for version in answer["versions"]:
        published = datetime.datetime.fromtimestamp(version["created_at"], datetime.timezone.utc)
        code = version.get("code") or Path(version["root"]).name
        table.add_row(version["version"], code, published.strftime("%Y-%m-%d %H:%M:%S UTC"), version["description"])
    print_table(table)
    _print_aliases(answer["aliases"])


@click.group(name="alias")
def group() -> None:
    """Create, move and list aliases: names that point at a function's published version."""


@group.command(name="set")
@click.argument("name")
@click.argument("alias")
@click.argument("version")
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="VERSION=FRACTION",
    help="Send this fraction (0.0 to 1.0) of the alias's invocations to another published version.",
)
@client_options
@click.pass_context
def set_command(ctx: click.Context, name: str, alias: str, version: str, weights: tuple[str, ...], endpoint: str,
                token: str | None, data: Path) -> None:
    """Point ALIAS of function NAME at VERSION, creating the alias if needed.

    Moving an alias back to an earlier version is a rollback.
    """
    body = {"function": name, "alias": alias, "version": version, "weights": _parse_weights(weights)}
    client = open_client(ctx, endpoint, token, data)
    answer = client.decode_json(client.send("POST", f"{API_PATH}/alias", json_body=body))
    shares = ", ".join(f"{fraction:g} to version {extra}" for extra, fraction in (answer.get("weights") or {}).items())
    click.echo(f"alias {alias} of {name} now points at version {answer['version']}" + (f", with {shares}" if shares else ""))


@group.command(name="ls")
@click.argument("name")
@client_options
@click.pass_context
def ls_command(ctx: click.Context, name: str, endpoint: str, token: str | None, data: Path) -> None:
    """List the aliases of function NAME."""
    client = open_client(ctx, endpoint, token, data)
    answer = client.get_json(f"{API_PATH}/versions", params={"function": name})
    _print_aliases(answer["aliases"])


@group.command(name="rm")
@click.argument("name")
@click.argument("alias")
@client_options
@click.pass_context
def rm_command(ctx: click.Context, name: str, alias: str, endpoint: str, token: str | None, data: Path) -> None:
    """Delete ALIAS of function NAME; the version it pointed at stays published.

    An alias that the deployed manifest uses (AutoPublishAlias, or an event
    that invokes it) cannot be deleted until the manifest stops using it.
    """
    client = open_client(ctx, endpoint, token, data)
    answer = client.decode_json(
        client.send("DELETE", f"{API_PATH}/alias", params={"function": name, "alias": alias})
    )
    click.echo(f"deleted alias {alias} of {name}, which pointed at version {answer['version']}")


def _parse_weights(weights: tuple[str, ...]) -> dict[str, float]:
    parsed: dict[str, float] = {}
    for item in weights:
        version, separator, fraction = item.partition("=")
        version = version.strip()
        if separator and version == "$LATEST":
            # Lambda routes an alias's extra share only to a published version.
            raise click.BadParameter(
                f"{item!r}: $LATEST cannot take a share of an alias's calls; publish it first with "
                "`squall publish` and name its version number",
                param_hint="'--weight'",
            )
        try:
            if not separator or not version.isdigit():
                raise ValueError(item)
            parsed[version] = float(fraction)
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is invalid: expected VERSION=FRACTION, such as 2=0.1", param_hint="'--weight'"
            ) from None
    return parsed


def _print_aliases(aliases: list[dict]) -> None:
    table = plain_table("alias", "version", "weights")
    for alias in aliases:
        weights = ", ".join(f"version {version}: {fraction:g}" for version, fraction in alias["weights"].items())
        table.add_row(alias["name"], alias["version"], weights)
    print_table(table)
