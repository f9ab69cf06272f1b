"""The `squall` command line: start a server, and a thin HTTP client of its API.

Every client command talks to one server, chosen by `--endpoint`, then
SQUALL_ENDPOINT, then http://127.0.0.1:8080. The commands take their HTTP
transport, clock and sleep from a `CliContext` in click's context object, so
tests can run them against an `httpx.MockTransport` without a server.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import difflib
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from squall import __version__
from squall.cli_output import (
    cost_csv,
    cost_table,
    describe_cost_prices,
    describe_price,
    format_function_error,
    format_payload,
    functions_table,
    parse_duration,
    parse_time_point,
    print_table,
    region_option,
    stats_table,
)
from squall.cli_client import (
    API_PREFIX,
    ApiClient,
    CliContext,
    CommandFailed,
    DEFAULT_DATA,
    FOLLOW_POLL_INTERVAL_S,
    INVOKE_TIMEOUT_S,
    client_options,
    parameter_overrides_option,
    open_client,
    settings_of,
)

logger = logging.getLogger(__name__)

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="squall")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Squall: run Python functions Lambda-style on your own machine."""
    ctx.ensure_object(CliContext)
    if os.environ.get("NO_COLOR"):
        # No ANSI colour in any message (no-color.org); rich's tables read NO_COLOR themselves.
        ctx.color = False


def main() -> None:
    """Run the `squall` console script."""
    cli(prog_name="squall")


class _NonStandardNumber(ValueError):
    """Raised for NaN, Infinity or -Infinity in a payload: Python's json reads them, and JSON has no such numbers."""


def _reject_constant(name: str) -> None:
    raise _NonStandardNumber(f"{name} is not a JSON number; write a number or a string instead")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        # The server reads numbers as doubles and rejects this one.
        raise _NonStandardNumber(f"the number {text} is too large for a double; write it as a string instead")
    return value


@cli.command()
@click.argument("folder", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port to listen on; 0 picks a free one.",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SQUALL_DATA",
    default=DEFAULT_DATA,
    show_default=True,
    help="Folder for the server's registry, logs, metering records and token [env: SQUALL_DATA].",
)
@click.option(
    "--region",
    metavar="REGION",
    envvar="SQUALL_REGION",
    default="us-east-1",
    show_default=True,
    callback=region_option,
    help="AWS region the server runs as: AWS_REGION, ARNs, events and the SigV4 scope it accepts [env: SQUALL_REGION].",
)
@click.option(
    "--memory-budget-mb",
    type=click.IntRange(128, None),
    default=None,
    help="Sum of memory_mb over all live instances of this node [default: 8192].",
)
@click.option("--no-watch", is_flag=True, help="Do not redeploy when FOLDER changes.")
@click.option(
    "--no-deploy",
    is_flag=True,
    help="Serve only what the data folder's last run deployed, without deploying FOLDER (implies --no-watch).",
)
@click.option("--stage", default=None, help="The stage of a serverless.yml, as `sls deploy --stage` sets it [default: the manifest's, else dev].")
@click.option("--config-env", default=None, help="The samconfig environment of a SAM template, as `sam deploy --config-env` chooses it [default: default].")
@parameter_overrides_option
@click.option(
    "--log-retention-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Delete log entries older than this many days [default: keep them].",
)
@click.option(
    "--log-retention-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Delete the oldest log entries while the log texts exceed this many MB [default: no limit].",
)
@click.option(
    "--record-retention-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Delete invocation records and provisioned-usage periods older than this many days [default: keep them].",
)
def up(folder: Path, host: str, port: int, data: Path, region: str, memory_budget_mb: int | None, no_watch: bool,
       no_deploy: bool, stage: str | None, config_env: str | None, parameter_overrides: dict[str, str] | None,
       log_retention_days: float | None, log_retention_mb: float | None,
       record_retention_days: float | None) -> None:
    """Start a server in the foreground for the service in FOLDER."""
    # Imported here so that the client commands never load the server and its dependencies.
    try:
        from squall.metering.retention import RetentionPolicy
        from squall.server import serve
    except ModuleNotFoundError as exc:
        if exc.name != "squall.server":
            raise
        raise CommandFailed("this installation of Squall has no server module (squall.server)") from None
    for option, path in (("FOLDER", folder), ("--data", data)):
        try:
            str(path.resolve()).encode("utf-8")
        except UnicodeEncodeError:
            # Instances get these paths in their environment and arguments, which must be UTF-8.
            raise click.BadParameter(
                f"{os.fsencode(path.resolve())!r} is not valid UTF-8: choose or rename a folder whose path is",
                param_hint=option,
            ) from None

    try:
        code = serve(
            folder=folder.resolve(),
            host=host,
            port=port,
            data=data.resolve(),
            region=region,
            memory_budget_mb=memory_budget_mb,
            watch=not (no_watch or no_deploy),
            deploy=not no_deploy,
            retention=RetentionPolicy(
                log_days=log_retention_days, log_mb=log_retention_mb, record_days=record_retention_days
            ),
            stage=stage,
            config_env=config_env,
            parameter_overrides=parameter_overrides,
        )
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        return
    if code:
        sys.exit(code)


@cli.command()
@click.argument("folder", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--upload/--no-upload",
    default=None,
    help="Send the folder's files to the server as a package [default: only when the server is not on this machine's loopback].",
)
@click.option("--stage", default=None, help="The stage of a serverless.yml, as `sls deploy --stage` sets it [default: the manifest's, else dev].")
@click.option("--config-env", default=None, help="The samconfig environment of a SAM template, as `sam deploy --config-env` chooses it [default: default].")
@parameter_overrides_option
@client_options
@click.pass_context
def deploy(ctx: click.Context, folder: Path, upload: bool | None, stage: str | None, config_env: str | None,
           parameter_overrides: dict[str, str] | None, endpoint: str, token: str | None, data: Path) -> None:
    """Deploy the service whose manifest is in FOLDER.

    A server on this machine reads FOLDER itself; any other server gets its
    files as a package over the authenticated API. Either way, the `${env:NAME}`
    variables of a serverless.yml take their values from this shell.
    """
    variables = shell_variables(folder, stage, config_env, parameter_overrides)
    client = open_client(ctx, endpoint, token, data)
    if upload is None:
        upload = not is_local_endpoint(client.endpoint)
    if upload:
        from squall.deploy.package import CONTENT_TYPE, pack
        from squall.errors import DeployError

        try:
            package = pack(folder.resolve())
        except DeployError as error:
            raise CommandFailed(str(error)) from None
        click.echo(f"uploading {len(package)} bytes of {folder}", err=True)
        with deploy_status(folder, client):
            response = client.send("POST", f"{API_PREFIX}/upload", content=package,
                                   params={"variables": json.dumps(variables)} if variables else None,
                                   headers={"Content-Type": CONTENT_TYPE}, timeout_s=INVOKE_TIMEOUT_S)
    else:
        body: dict[str, Any] = {"folder": str(folder.resolve())}
        if variables:
            body["variables"] = variables
        with deploy_status(folder, client):
            response = client.send("POST", f"{API_PREFIX}/deploy", json_body=body, timeout_s=INVOKE_TIMEOUT_S)
    deployed = client.decode_json(response)

    functions = deployed.get("functions") or []
    if deployed.get("unchanged"):
        click.echo(f"service {deployed.get('service', '?')} is unchanged: the server kept its running version"
                   f" of {len(functions)} function(s)")
    else:
        click.echo(f"deployed service {deployed.get('service', '?')} with {len(functions)} function(s)")
    for name in functions:
        click.echo(f"  {name}")
    for warning in deployed.get("warnings") or []:
        click.secho(f"warning: {warning}", err=True, fg="yellow")


@cli.command()
@click.argument("service")
@client_options
@click.pass_context
def remove(ctx: click.Context, service: str, endpoint: str, token: str | None, data: Path) -> None:
    """Stop serving SERVICE and forget it; its queues, buckets, tables, streams and logs stay."""
    client = open_client(ctx, endpoint, token, data)
    removed = client.decode_json(client.send("POST", f"{API_PREFIX}/remove", json_body={"service": service}))
    functions = removed.get("functions") or []
    click.echo(f"removed service {service} with {len(functions)} function(s)")
    for name in functions:
        click.echo(f"  {name}")
    for warning in removed.get("warnings") or []:
        click.secho(f"warning: {warning}", err=True, fg="yellow")


def shell_variables(folder: Path, stage: str | None, config_env: str | None = None,
                    parameter_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the stage, this shell's values of the manifest's `${env:}` variables and a SAM template's settings, as the deploy API takes them."""
    from squall.deploy.variables import DeployVariables, InvalidVariables, deploying_shell_variables
    from squall.errors import ManifestError
    from squall.manifest import find_manifest

    try:
        manifest = find_manifest(folder.resolve())
    except ManifestError:
        # The server reports a folder without a manifest in its own words.
        return DeployVariables(stage).to_json() if stage else {}
    try:
        return deploying_shell_variables(
            manifest, stage, config_env=config_env, parameter_overrides=parameter_overrides
        ).to_json()
    except InvalidVariables as error:
        raise click.BadParameter(str(error), param_hint=f"'{error.option}'") from None


@contextlib.contextmanager
def deploy_status(folder: Path, client: ApiClient) -> Iterator[None]:
    """On a terminal, show a spinner while the server deploys, and a bar per requirements file it installs."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    from squall.cli_progress import InstallWatcher

    with InstallWatcher(client, console, f"deploying {folder}: starting functions"):
        yield


def is_local_endpoint(endpoint: str) -> bool:
    """Tell whether a server URL points at this machine's loopback, where the server can read local folders."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _deployed_hint(client: ApiClient, name: str) -> str:
    """Return a hint naming the deployed function closest to `name`, or "" when there is none to give."""
    try:
        listed = client.get_json(f"{API_PREFIX}/functions").get("functions") or []
    except CommandFailed:
        return ""
    names = [str(entry.get("name")) for entry in listed if isinstance(entry, dict)]
    if name in names:
        return ""  # the function exists; the version or alias does not
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_payload(value: str) -> bytes:
    """Return the bytes of --payload: inline JSON, "@path" for a file's content, or "@-" for standard input; each must be JSON."""
    if value == "@":
        raise click.BadParameter(
            "'@' names no file: expected @path/to/event.json, or @- for standard input", param_hint="'--payload'"
        )
    if value == "@-":
        where = "payload from standard input"
        payload = click.get_binary_stream("stdin").read()
    elif value.startswith("@"):
        path = Path(value[1:]).expanduser()
        where = f"payload file {str(path)!r}"
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            raise click.BadParameter(f"{where} does not exist", param_hint="'--payload'") from None
        except OSError as exc:
            raise click.BadParameter(f"cannot read {where}: {exc.strerror}", param_hint="'--payload'") from None
    else:
        where = "inline payload"
        payload = value.encode("utf-8")

    try:
        json.loads(payload, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonStandardNumber as exc:
        raise click.BadParameter(f"{where} is not valid JSON: {exc}", param_hint="'--payload'") from None
    except RecursionError:
        # Nested deeper than Python's parser goes: the server and the function decide, as for any payload.
        return payload
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}", param_hint="'--payload'"
        ) from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}); "
            'pass a JSON document such as \'{"key": "value"}\' or @file.json',
            param_hint="'--payload'",
        ) from None
    return payload


@cli.command()
@click.argument("name")
@click.option(
    "--payload",
    default="{}",
    show_default=True,
    metavar="JSON|@FILE|@-",
    help="Event to send: inline JSON, @ followed by the path of a JSON file, or @- to read it from standard input.",
)
@click.option("--async", "run_async", is_flag=True, help="Queue the invocation (type Event) and return at once.")
@click.option("--log-tail", is_flag=True, help="Print the last 4 KB of the invocation's log to stderr.")
@client_options
@click.pass_context
def invoke(
    ctx: click.Context,
    name: str,
    payload: str,
    run_async: bool,
    log_tail: bool,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Invoke the function NAME and print what it returned.

    A function error is printed to stderr as a traceback ending in its error
    type and message, and the exit status is then 1. NAME:VERSION or
    NAME:ALIAS (such as fn:3 or fn:live) invokes a published version or an
    alias.
    """
    if run_async and log_tail:
        raise click.UsageError("--log-tail needs a synchronous invocation: drop --async or --log-tail")
    body = read_payload(payload)
    client = open_client(ctx, endpoint, token, data)

    headers = {"X-Amz-Invocation-Type": "Event" if run_async else "RequestResponse"}
    if log_tail:
        headers["X-Amz-Log-Type"] = "Tail"
    try:
        response = client.send(
            "POST",
            f"/2015-03-31/functions/{quote(name, safe=':')}/invocations",
            content=body,
            headers=headers,
            timeout_s=INVOKE_TIMEOUT_S,
        )
    except CommandFailed as error:
        if not str(error).startswith("ResourceNotFoundException: Function not found"):
            raise
        raise CommandFailed(f"{error}{_deployed_hint(client, name.partition(':')[0])}") from None

    if run_async:
        request_id = response.headers.get("x-amzn-RequestId", "(no request id returned)")
        click.echo(f"{request_id} queued")
        return

    function_error = response.headers.get("X-Amz-Function-Error")
    if function_error:
        click.secho(format_function_error(response.content), err=True, fg="red")
    elif response.content:
        click.echo(format_payload(response.content))

    if log_tail:
        print_log_tail(response.headers.get("X-Amz-Log-Result"))
    if function_error:
        ctx.exit(1)


def print_log_tail(encoded: str | None) -> None:
    """Print the base64 log tail of X-Amz-Log-Result to stderr, after a dimmed separator."""
    if not encoded:
        click.secho("(the server returned no log tail)", err=True, dim=True)
        return
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
    except ValueError:
        raise CommandFailed(f"the server returned a log tail that is not base64: {encoded[:80]!r}") from None
    click.secho("--- log tail ---", err=True, dim=True)
    click.echo(text.rstrip("\n"), err=True)


@cli.command(name="ls")
@client_options
@click.pass_context
def list_functions(ctx: click.Context, endpoint: str, token: str | None, data: Path) -> None:
    """List deployed functions with settings, instances and routes."""
    client = open_client(ctx, endpoint, token, data)
    functions = client.get_json(f"{API_PREFIX}/functions").get("functions") or []
    if not functions:
        click.echo("no functions deployed: run `squall deploy FOLDER`")
        return
    print_table(functions_table(functions))


class DurationType(click.ParamType):
    """A click parameter for durations such as 30s, 10m, 2h or 1d, converted to seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = DurationType()


class TimePointType(click.ParamType):
    """A click parameter for a point in time: a duration before now (10m, 2h) or an ISO 8601 time.

    Converted to Unix seconds with the clock of the command's `CliContext`.
    """

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        clock = (ctx.find_object(CliContext) if ctx is not None else None) or CliContext()
        try:
            return parse_time_point(str(value), clock.clock())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME_POINT = TimePointType()

LogParams = dict[str, str | int | float | list[str]]
DEFAULT_LOG_ENTRIES = 1000  # as many as the server sends when not asked for a number
FOLLOW_BACKLOG_ENTRIES = 10  # entries --follow prints before new ones when neither --since nor --limit is given
MAX_LOG_ENTRIES = 10_000  # the maximum the server sends


@cli.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries until Ctrl-C.")
@click.option(
    "--since",
    type=TIME_POINT,
    metavar="TIME",
    help="Only entries from this time on: a duration before now (30s, 10m, 2h, 1d) or an ISO 8601 time"
    " (local time unless it has a UTC offset).",
)
@click.option(
    "--until",
    type=TIME_POINT,
    metavar="TIME",
    help="Only entries up to this time: a duration before now or an ISO 8601 time such as 2024-05-01T14:00.",
)
@click.option("--request-id", help="Only the entry of this invocation.")
@click.option(
    "--filter",
    "contains",
    metavar="TEXT",
    help="Only invocations with a log line that contains TEXT (case-sensitive).",
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only invocations with a JSON log line whose KEY (or dotted path, such as order.id) is VALUE."
    " Repeat to require several fields on the same line.",
)
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the log as written; json: one JSON object per invocation, with its matching lines.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LOG_ENTRIES),
    default=DEFAULT_LOG_ENTRIES,
    show_default=True,
    help=f"Print at most this many entries, the newest ones (with --follow: {FOLLOW_BACKLOG_ENTRIES} unless --since is given).",
)
@client_options
@click.pass_context
def logs(
    ctx: click.Context,
    name: str,
    follow: bool,
    since: float | None,
    until: float | None,
    request_id: str | None,
    contains: str | None,
    fields: tuple[str, ...],
    output: str,
    limit: int,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Print the logs of the function NAME, oldest first, one entry per invocation."""
    settings = settings_of(ctx)
    if since is not None and until is not None and since > until:
        raise click.BadParameter("--since must be earlier than --until", param_hint="'--since'")
    if not name.strip():
        # An empty name would match every function, as an unset shell variable would ask by mistake.
        raise click.BadParameter("expected a function name, got an empty one", param_hint="'NAME'")
    if request_id is not None and not request_id.strip():
        raise click.BadParameter("expected a request id, got an empty one", param_hint="'--request-id'")
    if contains == "":
        raise click.BadParameter("expected a non-empty TEXT", param_hint="'--filter'")
    for field in fields:
        key, separator, _ = field.partition("=")
        if not separator or not key.strip():
            raise click.BadParameter(
                f"invalid field {field!r}: expected KEY=VALUE, such as level=ERROR or order.id=7",
                param_hint="'--field'",
            )
    client = open_client(ctx, endpoint, token, data)

    params: LogParams = {"function": name}
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    if request_id:
        params["request_id"] = request_id
    if contains is not None:
        params["contains"] = contains
    if fields:
        params["field"] = list(fields)
    show = print_log_json if output == "json" else print_log_entry

    if not follow:
        entries = fetch_log_entries(client, {**params, "limit": limit})
        if not entries:
            narrowed = contains is not None or bool(fields) or request_id is not None
            what = "match the filter" if narrowed else "were found"
            click.secho(f"no log entries of function {name!r} {what}", err=True, dim=True)
        for entry in entries:
            show(entry)
        if len(entries) >= limit:
            click.secho(
                f"showing the newest {limit} {'entry' if limit == 1 else 'entries'}; older ones may exist: "
                "narrow with --since or raise --limit"
                f" (at most {MAX_LOG_ENTRIES})",
                err=True,
                dim=True,
            )
        return

    # As `tail -f` does, start with the last few entries unless --since or --limit sets the start.
    limit_given = ctx.get_parameter_source("limit") is not click.core.ParameterSource.DEFAULT
    backlog = limit if limit_given or since is not None else FOLLOW_BACKLOG_ENTRIES
    try:
        for entry in follow_log_entries(client, params, settings.sleep, backlog):
            show(entry)
    except KeyboardInterrupt:
        # Ctrl-C is how the user ends --follow, so it is a normal exit.
        return


def fetch_log_entries(client: ApiClient, params: LogParams) -> list[dict[str, Any]]:
    # httpx sends a list value as a repeated query parameter (field=...&field=...).
    entries = client.get_json(f"{API_PREFIX}/logs", params).get("entries") or []  # type: ignore[arg-type]
    return [entry for entry in entries if isinstance(entry, dict)]


def follow_log_entries(
    client: ApiClient, params: LogParams, sleep: Callable[[float], None], backlog: int = DEFAULT_LOG_ENTRIES
) -> Iterator[dict[str, Any]]:
    """Yield the newest `backlog` entries, then new ones forever, polling with after=<last id> and pausing only when nothing is new."""
    last_id: int | None = None
    first = True
    while True:
        query = dict(params)
        if last_id is not None:
            query["after"] = last_id
        if first:
            query["limit"] = backlog
            first = False

        fresh = [
            entry
            for entry in fetch_log_entries(client, query)
            # Skip what was already printed, in case the server ignores `after`.
            if last_id is None or not isinstance(entry.get("id"), int) or entry["id"] > last_id
        ]
        for entry in fresh:
            if isinstance(entry.get("id"), int):
                last_id = entry["id"] if last_id is None else max(last_id, entry["id"])
            yield entry

        # A poll that returned entries may have been cut short by the server's limit, so poll again at once.
        if not fresh:
            sleep(FOLLOW_POLL_INTERVAL_S)


def print_log_entry(entry: dict[str, Any]) -> None:
    click.echo(str(entry.get("text", "")).rstrip("\n"))


def print_log_json(entry: dict[str, Any]) -> None:
    click.echo(json.dumps(entry, ensure_ascii=False))


def price_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --price-gb-second and --price-request, which replace the server's price table for one command."""
    command = click.option(
        "--price-request",
        type=click.FloatRange(min=0),
        default=None,
        help="Price of one request, in USD, instead of the server's price table.",
    )(command)
    command = click.option(
        "--price-gb-second",
        type=click.FloatRange(min=0),
        default=None,
        help="Price of one GB-second of duration, in USD, instead of the server's price table.",
    )(command)
    return command


@cli.command()
@click.option(
    "--since",
    default="1h",
    show_default=True,
    metavar="TIME",
    help="Start of the window to summarise: a duration before now (30m, 2h, 1d) or an ISO 8601 time"
    " (local time unless it has a UTC offset).",
)
@click.option(
    "--by-version",
    is_flag=True,
    help="One row per version of each function (NAME:VERSION), to compare the versions a weighted alias splits calls between.",
)
@price_options
@client_options
@click.pass_context
def stats(
    ctx: click.Context,
    since: str,
    by_version: bool,
    price_gb_second: float | None,
    price_request: float | None,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Show invocations, errors, latency and cost per function."""
    settings = settings_of(ctx)
    start, window = _stats_window(since, settings.clock())
    client = open_client(ctx, endpoint, token, data)
    query: dict[str, Any] = {"since": start}
    if by_version:
        query["by"] = "version"
    if price_gb_second is not None:
        query["per_gb_second"] = price_gb_second
    if price_request is not None:
        query["per_request"] = price_request
    summary = client.get_json(f"{API_PREFIX}/stats", query)

    if not summary.get("functions"):
        click.echo(f"no invocations {window}")
        return
    print_table(stats_table(summary))
    click.echo(describe_price(summary.get("price") or {}, window.removeprefix("in the ")))
    click.echo("Cost covers invocations only; `squall cost` adds the time of provisioned instances.")


@cli.command()
@click.option(
    "--since",
    default="7d",
    show_default=True,
    metavar="TIME",
    help="Start of the window to price: a duration before now (12h, 7d) or an ISO 8601 time"
    " (local time unless it has a UTC offset).",
)
@click.option(
    "--by",
    "grouping",
    type=click.Choice(["function", "day", "trigger"]),
    default="function",
    show_default=True,
    help="One row per function, per UTC day, or per trigger (http, invoke, queue, ...).",
)
@click.option(
    "--output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for reading, csv or json for scripts.",
)
@price_options
@click.option(
    "--price-provisioned-gb-second",
    type=click.FloatRange(min=0),
    default=None,
    help="Price of one GB-second of provisioned instance time, in USD, instead of the server's price table.",
)
@client_options
@click.pass_context
def cost(
    ctx: click.Context,
    since: str,
    grouping: str,
    output: str,
    price_gb_second: float | None,
    price_request: float | None,
    price_provisioned_gb_second: float | None,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Show requests, GB-seconds, provisioned time and their cost, beside the AWS Lambda price."""
    now = settings_of(ctx).clock()
    try:
        start = parse_time_point(since, now)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--since'") from None
    # "in the last 7d" for a duration, "since 2024-05-01T14:00" for a time.
    window = f"since {since}" if _is_iso_time(since) else f"in the last {describe_seconds(round(now - start))}"
    client = open_client(ctx, endpoint, token, data)
    query: dict[str, Any] = {"since": start, "by": grouping}
    if price_gb_second is not None:
        query["per_gb_second"] = price_gb_second
    if price_request is not None:
        query["per_request"] = price_request
    if price_provisioned_gb_second is not None:
        query["per_provisioned_gb_second"] = price_provisioned_gb_second
    report = client.get_json(f"{API_PREFIX}/cost", query)

    if output == "json":
        click.echo(json.dumps(report, indent=2))
        return
    if output == "csv":
        click.echo(cost_csv(report), nl=False)
        return
    if not report.get("rows"):
        click.echo(f"no usage {window}")
        return
    print_table(cost_table(report))
    click.echo(describe_cost_prices(report, window.removeprefix("in the ")))


def _is_iso_time(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return True
    return False


def _stats_window(since: str, now: float) -> tuple[float, str]:
    """Return the start of a stats window given as --since, and words for it ("in the last 1h", "since 2026-...")."""
    try:
        seconds = parse_duration(since)
    except ValueError:
        try:
            start = parse_time_point(since, now)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--since'") from None
        return start, f"since {datetime.datetime.fromtimestamp(start).isoformat(timespec='seconds')}"
    return now - seconds, f"in the last {describe_seconds(seconds)}"


def describe_seconds(seconds: int) -> str:
    """Write a number of seconds in the largest unit that divides it: 3600 -> "1h"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _add_service_commands() -> None:
    from squall import cli_objects, cli_plan, cli_queues, cli_secrets, cli_streams, cli_tables, cli_versions

    cli.add_command(cli_plan.plan)
    cli.add_command(cli_versions.publish)
    cli.add_command(cli_versions.versions)
    cli.add_command(cli_versions.group)
    for module in (cli_queues, cli_objects, cli_tables, cli_streams, cli_secrets):
        cli.add_command(module.group)


_add_service_commands()

if __name__ == "__main__":
    main()
