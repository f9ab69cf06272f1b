"""The `squall` command line: start a server, and a thin HTTP client of its API.

Every client command talks to one server, chosen by `--endpoint`, then
SQUALL_ENDPOINT, then http://127.0.0.1:8080. The commands take their HTTP
transport, clock and sleep from a `CliContext` in click's context object, so
tests can run them against an `httpx.MockTransport` without a server.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import click
import httpx
from click.core import ParameterSource

from squall import __version__
from squall.cli_output import (
    describe_price,
    format_function_error,
    format_payload,
    functions_table,
    parse_duration,
    print_table,
    stats_table,
)
from squall.manifest.spec import MAX_TIMEOUT_S

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_DATA = ".squall"
TOKEN_FILE_NAME = "token"
API_PREFIX = "/_squall/api"
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
# A synchronous invocation may run for the longest function timeout. The 60 s on top is
# an estimated margin for a cold start and for waiting at the concurrency cap.
INVOKE_TIMEOUT_S = float(MAX_TIMEOUT_S + 60)
FOLLOW_POLL_INTERVAL_S = 0.5


class CommandFailed(click.ClickException):
    """Raised to end a command with a one-line message in red on stderr and exit status 1."""

    def show(self, file: Any = None) -> None:
        click.secho(self.format_message(), err=True, fg="red")


@dataclass(frozen=True)
class CliContext:
    """Dependencies of the commands, which tests replace.

    `transport` None means httpx's default network transport.
    """

    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


class TokenSource(enum.Enum):
    """Origin of the bearer token sent to the server."""

    OPTION = "the --token option"
    ENVIRONMENT = "the SQUALL_TOKEN environment variable"
    FILE = "the token file"
    NONE = "nowhere"


@dataclass(frozen=True)
class Credentials:
    """The bearer token to send, where it came from, and the token file that was checked."""

    token: str | None
    source: TokenSource
    token_file: Path


@dataclass(frozen=True)
class ApiError:
    """An error the server returned: its type (for example ResourceNotFoundException) and message."""

    type: str
    message: str


@dataclass
class ApiClient:
    """A client of one Squall server's HTTP API that turns every failure into a CommandFailed."""

    endpoint: str
    credentials: Credentials
    transport: httpx.BaseTransport | None = None
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        headers = {"User-Agent": f"squall-cli/{__version__}"}
        if self.credentials.token:
            headers["Authorization"] = f"Bearer {self.credentials.token}"
        self._http = httpx.Client(
            base_url=self.endpoint,
            headers=headers,
            transport=self.transport,
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int | float] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> httpx.Response:
        """Send one request and return the response, raising CommandFailed when it is an error."""
        timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        try:
            response = self._http.request(
                method, path, params=params, json=json_body, content=content, headers=headers, timeout=timeout
            )
        except httpx.ConnectError as exc:
            logger.debug("connecting to %s failed: %s", self.endpoint, exc)
            raise CommandFailed(f"no Squall server is listening at {self.endpoint}: start one with `squall up`") from None
        except httpx.TimeoutException:
            raise CommandFailed(
                f"the server at {self.endpoint} did not respond to {method} {path} within {timeout_s:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise CommandFailed(f"{method} {self.endpoint}{path} failed: {exc}") from None

        if response.is_error:
            self._fail(response)
        return response

    def get_json(self, path: str, params: dict[str, str | int | float] | None = None) -> dict[str, Any]:
        """GET an API path and return its JSON object."""
        response = self.send("GET", path, params=params)
        return self.decode_json(response)

    def decode_json(self, response: httpx.Response) -> dict[str, Any]:
        """Return the response body as a JSON object, raising CommandFailed for any other body."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise CommandFailed(
                f"the server at {self.endpoint} returned a response that is not a JSON object "
                f"for {response.request.method} {response.request.url.path}: {response.text[:200]!r}"
            )
        return body

    def _fail(self, response: httpx.Response) -> NoReturn:
        if response.status_code == 401:
            raise CommandFailed(self._describe_missing_token())

        error = parse_api_error(response)
        if error is not None:
            raise CommandFailed(f"{error.type}: {error.message}")

        snippet = response.text.strip()[:200] or "(empty body)"
        raise CommandFailed(
            f"the server at {self.endpoint} returned HTTP {response.status_code} "
            f"for {response.request.method} {response.request.url.path}: {snippet}"
        )

    def _describe_missing_token(self) -> str:
        credentials = self.credentials
        if credentials.source is TokenSource.NONE:
            return (
                f"the server at {self.endpoint} requires a token, and none was found: "
                f"pass --token, set SQUALL_TOKEN, or write the token to {credentials.token_file}"
            )
        where = credentials.source.value
        if credentials.source is TokenSource.FILE:
            where += f" {credentials.token_file}"
        return (
            f"the server at {self.endpoint} rejected the token from {where}: "
            f"check that it matches the {TOKEN_FILE_NAME!r} file in the server's data folder"
        )


def parse_api_error(response: httpx.Response) -> ApiError | None:
    """Read the error of a failed response in either of the server's two shapes, or return None.

    The Lambda Invoke API names the type in the x-amzn-ErrorType header and
    the message in the body ({"Type": "User", "message": ...}). The rest of the
    API returns {"error": {"type": ..., "message": ...}}.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None

    aws_type = response.headers.get("x-amzn-ErrorType")
    if aws_type:
        # AWS may append ":<documentation URL>" to the type.
        error_type = aws_type.split(":", 1)[0]
        message = ""
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("Message") or "")
        return ApiError(error_type, message or f"HTTP {response.status_code}")

    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return ApiError(str(error.get("type") or "Error"), str(error.get("message") or ""))
    return None


def read_credentials(token_option: str | None, token_option_source: ParameterSource | None, data: Path) -> Credentials:
    """Find the bearer token in --token, then SQUALL_TOKEN, then the token file of the data folder."""
    token_file = (data / TOKEN_FILE_NAME).resolve()
    if token_option:
        source = TokenSource.ENVIRONMENT if token_option_source is ParameterSource.ENVIRONMENT else TokenSource.OPTION
        return Credentials(token_option.strip(), source, token_file)

    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return Credentials(None, TokenSource.NONE, token_file)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"cannot read the token file {token_file}: {exc}") from None
    if not token:
        return Credentials(None, TokenSource.NONE, token_file)
    return Credentials(token, TokenSource.FILE, token_file)


def normalise_endpoint(endpoint: str) -> str:
    """Strip a trailing slash and check that the endpoint is an http(s) URL."""
    cleaned = endpoint.strip().rstrip("/")
    if not cleaned.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{endpoint!r} is not an http:// or https:// URL, such as {DEFAULT_ENDPOINT}", param_hint="'--endpoint'"
        )
    return cleaned


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --endpoint, --token and --data to a command that talks to the server."""
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


def open_client(ctx: click.Context, endpoint: str, token: str | None, data: Path) -> ApiClient:
    """Build the API client for a command and close it when the command ends."""
    credentials = read_credentials(token, ctx.get_parameter_source("token"), data)
    client = ApiClient(normalise_endpoint(endpoint), credentials, settings_of(ctx).transport)
    ctx.call_on_close(client.close)
    return client


def settings_of(ctx: click.Context) -> CliContext:
    return ctx.find_object(CliContext) or CliContext()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="squall")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Squall: run Python functions Lambda-style on your own machine."""
    ctx.ensure_object(CliContext)


def main() -> None:
    """Run the `squall` console script."""
    cli(prog_name="squall")


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
    "--memory-budget-mb",
    type=click.IntRange(128, None),
    default=None,
    help="Sum of memory_mb over all live instances of this node (default 8192).",
)
@click.option("--no-watch", is_flag=True, help="Do not redeploy when FOLDER changes.")
def up(folder: Path, host: str, port: int, data: Path, memory_budget_mb: int | None, no_watch: bool) -> None:
    """Start a server in the foreground for the service in FOLDER."""
    # Imported here so that the client commands never load the server and its dependencies.
    try:
        from squall.server import serve
    except ModuleNotFoundError as exc:
        if exc.name != "squall.server":
            raise
        raise CommandFailed("this installation of Squall has no server module (squall.server)") from None

    try:
        code = serve(
            folder=folder.resolve(),
            host=host,
            port=port,
            data=data.resolve(),
            memory_budget_mb=memory_budget_mb,
            watch=not no_watch,
        )
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        return
    if code:
        sys.exit(code)


@cli.command()
@click.argument("folder", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@client_options
@click.pass_context
def deploy(ctx: click.Context, folder: Path, endpoint: str, token: str | None, data: Path) -> None:
    """Deploy the service whose manifest is in FOLDER."""
    client = open_client(ctx, endpoint, token, data)
    deployed = client.decode_json(
        client.send("POST", f"{API_PREFIX}/deploy", json_body={"folder": str(folder.resolve())})
    )

    functions = deployed.get("functions") or []
    click.echo(f"deployed service {deployed.get('service', '?')} with {len(functions)} function(s)")
    for name in functions:
        click.echo(f"  {name}")
    for warning in deployed.get("warnings") or []:
        click.secho(f"warning: {warning}", err=True, fg="yellow")


def read_payload(value: str) -> bytes:
    """Return the bytes of --payload: inline JSON, or "@path" for a file's content; either must be JSON."""
    if value.startswith("@"):
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
        json.loads(payload)
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}", param_hint="'--payload'"
        ) from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
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
    metavar="JSON|@FILE",
    help="Event to send: inline JSON, or @ followed by the path of a JSON file.",
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
    """Invoke the function NAME and print what it returned."""
    if run_async and log_tail:
        raise click.UsageError("--log-tail needs a synchronous invocation: drop --async or --log-tail")
    body = read_payload(payload)
    client = open_client(ctx, endpoint, token, data)

    headers = {"X-Amz-Invocation-Type": "Event" if run_async else "RequestResponse"}
    if log_tail:
        headers["X-Amz-Log-Type"] = "Tail"
    response = client.send(
        "POST",
        f"/2015-03-31/functions/{quote(name, safe=':')}/invocations",
        content=body,
        headers=headers,
        timeout_s=INVOKE_TIMEOUT_S,
    )

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


@cli.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries until Ctrl-C.")
@click.option(
    "--since", type=DURATION, metavar="DURATION", help="Only entries newer than this, such as 30s, 10m, 2h, 1d."
)
@click.option("--request-id", help="Only the entry of this invocation.")
@client_options
@click.pass_context
def logs(
    ctx: click.Context,
    name: str,
    follow: bool,
    since: int | None,
    request_id: str | None,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Print the logs of the function NAME, oldest first."""
    settings = settings_of(ctx)
    client = open_client(ctx, endpoint, token, data)

    params: dict[str, str | int | float] = {"function": name}
    if since is not None:
        params["since"] = settings.clock() - since
    if request_id:
        params["request_id"] = request_id

    if not follow:
        entries = fetch_log_entries(client, params)
        if not entries:
            click.secho(f"no log entries for function {name!r}", err=True, dim=True)
        for entry in entries:
            print_log_entry(entry)
        return

    try:
        for entry in follow_log_entries(client, params, settings.sleep):
            print_log_entry(entry)
    except KeyboardInterrupt:
        # Ctrl-C is how the user ends --follow, so it is a normal exit.
        return


def fetch_log_entries(client: ApiClient, params: dict[str, str | int | float]) -> list[dict[str, Any]]:
    entries = client.get_json(f"{API_PREFIX}/logs", params).get("entries") or []
    return [entry for entry in entries if isinstance(entry, dict)]


def follow_log_entries(
    client: ApiClient, params: dict[str, str | int | float], sleep: Callable[[float], None]
) -> Iterator[dict[str, Any]]:
    """Yield log entries forever, polling with after=<last id> and pausing only when nothing is new."""
    last_id: int | None = None
    while True:
        query = dict(params)
        if last_id is not None:
            query["after"] = last_id

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


@cli.command()
@click.option(
    "--since",
    type=DURATION,
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Time window to summarise, such as 30m, 2h or 1d.",
)
@click.option(
    "--price-gb-second",
    type=click.FloatRange(min=0),
    default=None,
    help="Price of one GB-second, in USD, instead of the server's price table.",
)
@click.option(
    "--price-request",
    type=click.FloatRange(min=0),
    default=None,
    help="Price of one request, in USD, instead of the server's price table.",
)
@client_options
@click.pass_context
def stats(
    ctx: click.Context,
    since: int,
    price_gb_second: float | None,
    price_request: float | None,
    endpoint: str,
    token: str | None,
    data: Path,
) -> None:
    """Show invocations, errors, latency and cost per function."""
    settings = settings_of(ctx)
    client = open_client(ctx, endpoint, token, data)
    query: dict[str, Any] = {"since": settings.clock() - since}
    if price_gb_second is not None:
        query["per_gb_second"] = price_gb_second
    if price_request is not None:
        query["per_request"] = price_request
    summary = client.get_json(f"{API_PREFIX}/stats", query)

    if not summary.get("functions"):
        click.echo(f"no invocations in the last {describe_seconds(since)}")
        return
    print_table(stats_table(summary))
    click.echo(describe_price(summary.get("price") or {}, f"last {describe_seconds(since)}"))


def describe_seconds(seconds: int) -> str:
    """Write a number of seconds in the largest unit that divides it: 3600 -> "1h"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _add_service_commands() -> None:
    from squall import cli_objects, cli_queues, cli_streams, cli_tables

    for module in (cli_queues, cli_objects, cli_tables, cli_streams):
        cli.add_command(module.group)


_add_service_commands()

if __name__ == "__main__":
    main()
