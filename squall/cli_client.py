"""The parts every `squall` client command shares: connection options, credentials and the API client.

The `squall` group and the data-service groups (queue, object, table, stream)
import it, so none of them needs to import another.
"""

from __future__ import annotations

import enum
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
import httpx
from click.core import ParameterSource

from squall import __version__
from squall.manifest.spec import MAX_TIMEOUT_S
from squall.sdk.client import Client as SdkClient
from squall.sdk.client import RemoteError

logger = logging.getLogger(__name__)


def no_server_message(endpoint: str) -> str:
    """Return the error message of a command that found no server at `endpoint`."""
    return (
        f"no Squall server is listening at {endpoint}: start one with `squall up`,"
        " or name a running one with --endpoint URL or SQUALL_ENDPOINT"
    )


def not_squall_message(endpoint: str, status: int, request: str = "") -> str:
    """Return the error message of a command whose endpoint responded, but not as a Squall server responds.

    `request` is the method and path, such as "GET /_squall/api/functions", when they are known.
    """
    response = f"HTTP {status} for {request}" if request else f"HTTP {status}"
    return (
        f"the endpoint {endpoint} did not respond as a Squall server ({response}): "
        "check that --endpoint or SQUALL_ENDPOINT names the address `squall up` printed"
    )


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
        # Click shows this after the command's context has ended, so its colour setting no longer applies.
        click.secho(self.format_message(), err=True, fg="red", color=False if os.environ.get("NO_COLOR") else None)


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
            raise CommandFailed(no_server_message(self.endpoint)) from None
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
                not_squall_message(
                    self.endpoint, response.status_code, f"{response.request.method} {response.request.url.path}"
                )
            )
        return body

    def _fail(self, response: httpx.Response) -> NoReturn:
        # The Lambda API rejects a missing or wrong token with 403 UnrecognizedClientException, the rest of the API with 401.
        unrecognised = response.status_code == 403 and response.headers.get("x-amzn-ErrorType", "").startswith(
            "UnrecognizedClientException"
        )
        if response.status_code == 401 or unrecognised:
            raise CommandFailed(self._describe_missing_token())

        error = parse_api_error(response)
        if error is not None:
            raise CommandFailed(f"{error.type}: {error.message}")

        method, path = response.request.method, response.request.url.path
        snippet = response.text.strip()[:200]
        is_html = "html" in response.headers.get("Content-Type", "") or snippet.startswith("<")
        if response.status_code >= 500 and not is_html:
            # A proxy in front of Squall, or the web server under its API, responds with a short plain-text body.
            raise CommandFailed(
                f"the server at {self.endpoint} returned HTTP {response.status_code} for {method} {path}: "
                f"{snippet or '(empty body)'}"
            )
        # Squall's API gives every client error a JSON body with its type, so this response came from another server.
        raise CommandFailed(not_squall_message(self.endpoint, response.status_code, f"{method} {path}"))

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


def normalise_endpoint(endpoint: str, param_hint: str = "'--endpoint'") -> str:
    """Strip a trailing slash and check that the endpoint is an http(s) URL whose port, if given, is valid.

    `param_hint` names where the value came from in the usage error.
    """
    cleaned = endpoint.strip().rstrip("/")
    if not cleaned.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{endpoint!r} is not an http:// or https:// URL, such as {DEFAULT_ENDPOINT}", param_hint=param_hint
        )
    try:
        parts = urlsplit(cleaned)
    except ValueError as error:
        # urlsplit raises for an unclosed "[" of an IPv6 address, for one.
        raise click.BadParameter(
            f"{endpoint!r} is not a valid URL ({error}): expected one such as {DEFAULT_ENDPOINT} or http://[::1]:8080",
            param_hint=param_hint,
        ) from None
    try:
        # urlsplit reads the port lazily and raises ValueError for one that is not a number from 0 to 65535.
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise click.BadParameter(
            f"{endpoint!r} has an invalid port: expected a number from 1 to 65535, such as {DEFAULT_ENDPOINT}",
            param_hint=param_hint,
        )
    return cleaned


def endpoint_hint(ctx: click.Context) -> str:
    """Name the source of the endpoint for a usage error: the --endpoint option or SQUALL_ENDPOINT."""
    if ctx.get_parameter_source("endpoint") is ParameterSource.ENVIRONMENT:
        return "'--endpoint' (from SQUALL_ENDPOINT)"
    return "'--endpoint'"


def ensure_data_folder(data: Path) -> None:
    """Create the data folder, owner-only, if it is missing, and check that files can be created in it.

    Raises click.BadParameter for --data naming the folder, the OS error and
    the fix, so that a command writing into the folder fails before it starts.
    """
    fix = "choose a folder you can write with --data or SQUALL_DATA, or make this one writable"
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise click.BadParameter(
            f"cannot create the data folder {data}: {error.strerror or error}; {fix}", param_hint="'--data'"
        ) from None
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=data)
    except OSError as error:
        raise click.BadParameter(
            f"cannot write in the data folder {data}: {error.strerror or error}; {fix}", param_hint="'--data'"
        ) from None
    os.close(descriptor)
    os.unlink(probe)


def check_no_server_running(data: Path) -> None:
    """Raise CommandFailed when a Squall server runs on the data folder, which a `--local` command must not change.

    A running server has a lock on the folder's server.lock.
    """
    from squall.deploy.snapshot import DATA_FOLDER_MARKER

    lock = data / DATA_FOLDER_MARKER
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return  # no server has run here, or the lock cannot be read, so no server can be checked for
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        raise CommandFailed(
            f"a Squall server (pid {holder}) runs on the data folder {data}: leave out --local and send the "
            "command to that server, with --endpoint URL if it is not at the default address"
        ) from None
    finally:
        os.close(fd)


def _parameter_overrides(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
    from squall.deploy.variables import parse_parameter_overrides

    overrides: dict[str, str] = {}
    for value in values:
        try:
            overrides.update(parse_parameter_overrides(value))
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return overrides or None


def parameter_overrides_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --parameter-overrides, the values of a SAM template's Parameters, as a dict (None when not given)."""
    return click.option(
        "--parameter-overrides",
        multiple=True,
        callback=_parameter_overrides,
        metavar="'NAME=VALUE ...'",
        help="Values for a SAM template's Parameters, as `sam deploy --parameter-overrides` takes them; "
        "they win over samconfig's parameter_overrides. May be repeated.",
    )(command)


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
    client = ApiClient(normalise_endpoint(endpoint, endpoint_hint(ctx)), credentials, settings_of(ctx).transport)
    ctx.call_on_close(client.close)
    return client


def settings_of(ctx: click.Context) -> CliContext:
    return ctx.find_object(CliContext) or CliContext()


class CheckedSdkClient(SdkClient):
    """The SDK client, which raises CommandFailed for a response that cannot come from a Squall server.

    Squall's API returns a JSON object for every request except an object
    download, and the object of an error has an "error" member.
    """

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        status, response_headers, data = super().request(method, path, body, headers)
        if status < 300 and method == "GET":
            return status, response_headers, data  # object bytes, which may be anything
        try:
            document = json.loads(data) if data else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict) or (status >= 300 and not isinstance(document.get("error"), dict)):
            raise CommandFailed(not_squall_message(self.endpoint, status, f"{method} {path}"))
        return status, response_headers, data


def is_foreign_error(error: RemoteError) -> bool:
    """Tell whether an SDK error came from a response without Squall's error body.

    The SDK names such an error "Error", a type Squall's API never sends.
    """
    return error.code == "Error" and error.message.startswith(f"HTTP {error.status}")


def open_sdk_client(ctx: click.Context, endpoint: str, token: str | None, data: Path) -> CheckedSdkClient:
    """Build the SDK client (squall.sdk.Client) for a data-service command from its connection options."""
    hint = endpoint_hint(ctx)
    credentials = read_credentials(token, ctx.get_parameter_source("token"), data)
    try:
        return CheckedSdkClient(normalise_endpoint(endpoint, hint), credentials.token)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


@contextmanager
def reporting_sdk_errors(client: Any) -> Iterator[None]:
    """Turn the errors of SDK calls into CommandFailed, with the server's error code first."""
    from squall.services.errors import ServiceError

    try:
        yield
    except RemoteError as error:
        if is_foreign_error(error):
            raise CommandFailed(not_squall_message(client.endpoint, error.status)) from None
        raise CommandFailed(f"{error.code}: {error.message}") from None
    except ServiceError as error:
        # The SDK raised these before the request was sent.
        raise CommandFailed(f"{error.code}: {error.message}") from None
    except ConnectionRefusedError:
        raise CommandFailed(no_server_message(client.endpoint)) from None
    except TimeoutError:
        raise CommandFailed(f"the server at {client.endpoint} did not respond within {client.timeout_s:g} s") from None


def fail(message: str) -> NoReturn:
    """End the command with `message` on stderr and exit status 1."""
    raise CommandFailed(message)
