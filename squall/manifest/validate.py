"""YAML reading and value checks shared by the squall.yml and serverless.yml readers.

Every check raises `ManifestError` with the file as the user named it, the
dotted key path of the bad value, and a message of the form
"expected <what is valid>, got <the value>". A reader runs its independent
checks inside `ManifestProblems.collect()` blocks, so that one error lists
every mistake of the file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from squall.errors import ManifestError
from squall.manifest.spec import DEFAULT_ROUTE, ApiType, HttpEvent
from squall.secrets import SECRET_NAME_RULE, InvalidSecretName, referenced_names

logger = logging.getLogger(__name__)

KeyPath = tuple[str | int, ...]

# Lambda's own rule for the short form of a function name.
FUNCTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
FUNCTION_NAME_RULE = "1 to 64 ASCII letters, digits, hyphens or underscores"
FUNCTION_NAME_RE = re.compile(FUNCTION_NAME_PATTERN)

SERVICE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
SERVICE_NAME_RULE = "an ASCII letter followed by up to 63 ASCII letters, digits, hyphens or underscores"
SERVICE_NAME_RE = re.compile(SERVICE_NAME_PATTERN)

ENVIRONMENT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Lambda's own rule is stricter (see check_environment_names); this one comes first, in each format's schema.
ENVIRONMENT_NAME_RULE = "an ASCII letter followed by at least one ASCII letter, digit or underscore, as Lambda requires"
ENVIRONMENT_NAME_RE = re.compile(ENVIRONMENT_NAME_PATTERN)

# Variables the platform sets in every instance, which Lambda refuses in a
# function's configuration ("Defined runtime environment variables" in its
# guide). TZ is on that list too, but Lambda accepts it in practice and users
# rely on it, so TZ is left settable, with LANG, PATH, LD_LIBRARY_PATH and
# PYTHONPATH, which the guide documents as settable.
RESERVED_ENVIRONMENT_NAMES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
# Variables Squall sets in every instance so that the SDK finds the server;
# a manifest's value would be replaced without a word.
SQUALL_ENVIRONMENT_NAMES = frozenset({"SQUALL_ENDPOINT", "SQUALL_TOKEN"})
# Lambda's quota on a function's environment variables: the JSON object of
# names and values, written without spaces, at most 4 KB ("Lambda quotas").
MAX_ENVIRONMENT_BYTES = 4096
# Lambda's pattern for a variable name (the Environment type of its API).
_ENVIRONMENT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")

# Python identifiers, non-ASCII letters included ("données"), as importlib imports them.
_IDENTIFIER = r"[^\W\d]\w*"
# A module path's part: Lambda's runtime imports it with importlib, which also
# finds a folder or file whose name has a hyphen ("my-handlers/api").
_MODULE_PART = r"\w[\w-]*"
# Lambda's limit on the Handler setting (the Handler shape of its API model).
MAX_HANDLER_LENGTH = 128
# "app.greet", "pkg.app.greet" and "src/app.greet": the last dotted part is the
# function, everything before it the module, with "/" or "." between its parts.
HANDLER_PATTERN = rf"^{_MODULE_PART}(?:[./]{_MODULE_PART})*\.{_IDENTIFIER}$"
HANDLER_RULE = 'a handler as "module.function", such as "app.handler" or "src/app.handler"'
HANDLER_RE = re.compile(HANDLER_PATTERN)

PATH_PARAMETER_RULE = "a letter or underscore followed by letters, digits, underscores or hyphens"
_PATH_PARAMETER_RE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_-]*)(\+?)\}$")
# The characters RFC 3986 allows in a path segment. A "%" is accepted without
# checking that two hex digits follow it.
_LITERAL_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$")

_MAX_SHOWN_CHARS = 60


@dataclass(frozen=True)
class ManifestSource:
    """The manifest being read: how to name it in messages and where it lives."""

    display: str  # the file as the user named it, for messages
    path: Path  # absolute
    root: Path  # absolute folder that handler modules are found in

    def error(self, key: KeyPath, message: str) -> ManifestError:
        """Build the error for a bad value at `key` ("" names the whole file)."""
        return ManifestError(self.display, dotted(key), message)


def dotted(key: KeyPath) -> str:
    """Format a key path as "functions.greet.events[0].http.path"."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


def describe(value: Any) -> str:
    """Format a value from a manifest for a message, as the user would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if len(value) > _MAX_SHOWN_CHARS:
            value = value[: _MAX_SHOWN_CHARS - 3] + "..."
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        if not value:
            return "an empty list"
        return "a list of 1 item" if len(value) == 1 else f"a list of {len(value)} items"
    return str(value)


def expected(valid: str, value: Any) -> str:
    """Phrase a message as "expected <what is valid>, got <value>"."""
    return f"expected {valid}, got {describe(value)}"


# YAML reading ---------------------------------------------------------------

_MERGE_TAG = "tag:yaml.org,2002:merge"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """A safe YAML loader that rejects a key written twice in one mapping.

    PyYAML keeps the last of two equal keys, so a copied function block would
    silently replace the first one. Keys brought in by a `<<` merge may still
    be overridden, as YAML intends.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class raises its own error for this
            if key in first_lines:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {describe(key)}, first written at line {first_lines[key]}",
                    key_node.start_mark,
                )
            first_lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(source: ManifestSource, loader: type[yaml.SafeLoader] = StrictLoader) -> Any:
    """Read and parse the manifest file, turning every failure into a ManifestError."""
    try:
        data = source.path.read_bytes()
    except FileNotFoundError:
        raise source.error((), "file not found") from None
    except IsADirectoryError:
        raise source.error((), "is a folder, expected a manifest file") from None
    except OSError as exc:
        raise source.error((), f"cannot be read: {exc.strerror or exc}") from None

    try:
        return yaml.load(data, Loader=loader)  # noqa: S506 - loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = ", ".join(text for text in (exc.context, exc.problem) if text) or "syntax error"
        if mark is not None and _char_at(data, mark) == "\t":
            problem += " (a tab: YAML indents with spaces only, so replace it with spaces)"
        raise source.error((), f"invalid YAML{where}: {problem}") from None
    except yaml.reader.ReaderError as exc:
        raise source.error(
            (), f"invalid text at byte {exc.position}: {exc.reason}, expected UTF-8 or UTF-16"
        ) from None
    except yaml.YAMLError as exc:
        raise source.error((), f"invalid YAML: {exc}") from None


def _char_at(data: bytes, mark: Any) -> str:
    """Return the character of the manifest at a YAML error's mark, or "" when the mark is past the text."""
    lines = data.decode("utf-8", "replace").splitlines()
    if mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return lines[mark.line][mark.column]


# Value checks ---------------------------------------------------------------


def check_int(
    source: ManifestSource, key: KeyPath, value: Any, low: int, high: int | None, rule: str
) -> int:
    """Return `value` as an int if it is a whole number in [low, high], else raise."""
    if isinstance(value, bool):
        whole = False  # bool is a subclass of int, but `true` is no number of seconds
    elif isinstance(value, float):
        whole = value.is_integer()
    else:
        whole = isinstance(value, int)
    if not whole or value < low or (high is not None and value > high):
        raise source.error(key, expected(rule, value))
    return int(value)


def environment_value(value: str | int | float | bool) -> str:
    """Convert a scalar environment value to the string the function will see."""
    if isinstance(value, bool):
        # YAML's spelling, which is also what CloudFormation passes to Lambda.
        return "true" if value else "false"
    return str(value)


# Lambda's logging settings (LoggingConfig), which Squall reads from these variables.
LOG_SETTING_VALUES = {
    "AWS_LAMBDA_LOG_LEVEL": ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"),
    "AWS_LAMBDA_LOG_FORMAT": ("Text", "JSON"),
}


def check_environment_names(source: ManifestSource, key: KeyPath, names: Iterable[object]) -> None:
    """Refuse the variables the platform sets itself, all of them in one error; `key` names the environment mapping.

    When `names` is the mapping itself, the values of Lambda's logging
    settings are checked too.
    """
    if isinstance(names, dict):
        _check_log_settings(source, key, names)
    reserved = [name for name in names if isinstance(name, str) and name in RESERVED_ENVIRONMENT_NAMES]
    if reserved:
        listed = ", ".join(reserved)
        verb = "is" if len(reserved) == 1 else "are"
        raise source.error(
            (*key, reserved[0]),
            f"{listed} {verb} set by the platform in every instance and cannot be changed, as on Lambda; "
            "expected other variable names (TZ, LANG, PATH, LD_LIBRARY_PATH and PYTHONPATH may be set)",
        )
    squall_names = [name for name in names if isinstance(name, str) and name in SQUALL_ENVIRONMENT_NAMES]
    if squall_names:
        raise source.error(
            (*key, squall_names[0]),
            f"{squall_names[0]} is set by Squall in every instance, so that the SDK finds the server that runs"
            " the function, and cannot be changed; expected another variable name (a script outside a function"
            " sets SQUALL_ENDPOINT in its own environment, or passes `client=Client(URL)` to the SDK)",
        )
    for name in names:
        if not isinstance(name, str) or not _ENVIRONMENT_NAME.fullmatch(name):
            raise source.error(
                (*key, str(name)),
                expected("a variable name of a letter and at least one more letter, digit or _, as Lambda requires",
                         name),
            )


def check_environment_size(source: ManifestSource, key: KeyPath, environment: dict[str, str]) -> None:
    """Reject a function's environment over Lambda's 4 KB quota, measured as Lambda measures it."""
    problem = environment_size_problem(environment)
    if problem is not None:
        raise source.error(key, problem)


def environment_size_problem(environment: Mapping[str, str]) -> str | None:
    """Describe how a function's environment exceeds Lambda's 4 KB quota, or return None when it fits.

    Lambda measures the variables as one JSON object, with secret values
    filled in. The message gives sizes and the largest variable's name, never a value.
    """
    measured = json.dumps(environment, separators=(",", ":"), ensure_ascii=False).encode()
    if len(measured) <= MAX_ENVIRONMENT_BYTES:
        return None
    largest = max(environment, key=lambda name: len(name) + len(environment[name].encode()))
    return (
        f"the environment variables take {len(measured):,} bytes as a JSON object, over Lambda's limit of"
        f" {MAX_ENVIRONMENT_BYTES:,} bytes (4 KB); the largest is {largest} ({len(environment[largest].encode()):,}"
        " bytes): expected less, for example with a large value moved to a file in the code folder"
    )


def _check_log_settings(source: ManifestSource, key: KeyPath, environment: dict[Any, Any]) -> None:
    for name, valid in LOG_SETTING_VALUES.items():
        value = environment.get(name)
        if value is None or (isinstance(value, str) and "${" in value):
            continue  # unset, or resolved later
        if not isinstance(value, str) or value.upper() not in {option.upper() for option in valid}:
            raise source.error((*key, name), expected(f"one of {', '.join(valid)}", value))


def log_setting_variables(
    source: ManifestSource, key: KeyPath, settings: dict[Any, Any], variables: dict[str, str]
) -> dict[str, str]:
    """Return the AWS_LAMBDA_LOG_* variables that a manifest's logging settings set.

    `variables` maps each setting's name (LogFormat, logFormat, ...) to the
    variable Lambda sets from it. A value Lambda does not accept raises
    ManifestError at the setting's key.
    """
    found: dict[str, str] = {}
    for name, variable in variables.items():
        if name not in settings:
            continue
        valid = LOG_SETTING_VALUES[variable]
        if settings[name] not in valid:
            raise source.error((*key, name), expected("one of " + ", ".join(valid), settings[name]))
        found[variable] = settings[name]
    return found


def check_secret_references(source: ManifestSource, key: KeyPath, environment: dict[str, str]) -> dict[str, str]:
    """Check the name of each `${secret:NAME}` in an environment's values, and return the environment.

    Whether the secrets exist is checked at deploy, when they are resolved.
    """
    for variable, value in environment.items():
        try:
            referenced_names(value)
        except InvalidSecretName as error:
            raise source.error(
                (*key, variable), f"invalid secret reference: expected a name of {SECRET_NAME_RULE}, got {describe(error.name)}"
            ) from None
    return environment


def handler_module_files(handler: str) -> tuple[str, str]:
    """Return the two files, relative to the code root, that a handler's module can be: MODULE.py or MODULE/__init__.py."""
    path = "/".join(re.split(r"[./]", handler.rsplit(".", 1)[0]))
    return f"{path}.py", f"{path}/__init__.py"


# Lambda takes more than 10 messages per SQS batch only with a batching window of at least 1 second.
MAX_UNWINDOWED_QUEUE_BATCH = 10
# The maximum batch size Lambda takes from a FIFO queue, which takes no
# batching window either (Lambda developer guide, "Lambda parameters for
# Amazon SQS event source mappings").
MAX_FIFO_QUEUE_BATCH = 10
# The rule for a destination queue: AWS accepts a standard SQS queue only
# ("Capturing records of Lambda asynchronous invocations").
DESTINATION_QUEUE_RULE = "a standard queue, since a FIFO queue cannot be a destination, as on AWS"


def is_fifo_queue(name: str) -> bool:
    """Tell whether a queue name is a FIFO queue's, which SQS decides by the ".fifo" suffix."""
    return name.endswith(".fifo")


def check_queue_batch(
    source: ManifestSource,
    key: KeyPath,
    batch_size: int,
    window_s: float,
    window_name: str,
    queue: str | None = None,
) -> None:
    """Raise ManifestError when a queue trigger's batch size and batching window break Lambda's rules.

    `key` is the batch size's key path, and `window_name` the name of the
    batching window's key beside it. With the `queue` name given, a FIFO
    queue's batch is held to at most 10 messages and no batching window,
    and a batch size and a window that are both wrong are listed together.
    """
    if queue is not None and is_fifo_queue(queue):
        errors: list[ManifestError] = []
        if batch_size > MAX_FIFO_QUEUE_BATCH:
            errors.append(source.error(key, expected(
                f"a batch size between 1 and {MAX_FIFO_QUEUE_BATCH}, the maximum Lambda allows for "
                f"FIFO queue {describe(queue)}", batch_size,
            )))
        if window_s > 0:
            errors.append(source.error((*key[:-1], window_name), expected(
                f"no batching window (0 seconds), since Lambda supports none for FIFO queue {describe(queue)}",
                window_s,
            )))
        if errors:
            # Without the document to sort by, the errors keep this order, the batch size first.
            raise combine_errors(None, errors)
        return

    if batch_size > MAX_UNWINDOWED_QUEUE_BATCH and window_s < 1:
        raise source.error(
            key,
            f"{batch_size} messages per batch needs {window_name} of at least 1 second, as Lambda requires for a "
            f"batch above {MAX_UNWINDOWED_QUEUE_BATCH}; set it, or a batch size of {MAX_UNWINDOWED_QUEUE_BATCH} or less",
        )


def check_destination_queue(source: ManifestSource, key: KeyPath, queue: str) -> str:
    """Return the name of a destination queue, raising ManifestError at `key` for a FIFO queue."""
    if is_fifo_queue(queue):
        raise source.error(key, expected(DESTINATION_QUEUE_RULE, queue))
    return queue


def check_handler(source: ManifestSource, key: KeyPath, handler: Any, *, has_layers: bool = False) -> str:
    """Check a handler's form and that its module file exists under the root.

    As on Lambda, the module may also come from one of the function's layers
    (`has_layers`) or from a package that the root's requirements.txt
    installs. Then a missing module is not an error here: calls fail with
    Runtime.ImportModuleError, as they do on Lambda.
    """
    if not isinstance(handler, str) or not HANDLER_RE.match(handler):
        raise source.error(key, expected(HANDLER_RULE, handler))
    if len(handler) > MAX_HANDLER_LENGTH:
        raise source.error(
            key, expected(f"a handler of at most {MAX_HANDLER_LENGTH} characters, as Lambda allows", handler)
        )

    candidates = handler_module_files(handler)
    if any((source.root / candidate).is_file() for candidate in candidates):
        return handler
    if has_layers or (source.root / "requirements.txt").is_file():
        return handler
    module = candidates[0].removesuffix(".py").replace("/", ".")
    raise source.error(
        key,
        f"handler {describe(handler)} names module {describe(module)}, but neither "
        f"{candidates[0]} nor {candidates[1]} exists in {source.root}, and the function has no layer or"
        " requirements.txt that could provide it",
    )


def names_other_language(runtime: Any) -> bool:
    """Tell whether a Lambda runtime names a language other than Python, such as "nodejs20.x" or "java21".

    The handler of such a function names no .py file, so the readers skip its
    check and report the runtime alone.
    """
    return isinstance(runtime, str) and not runtime.startswith("python")


def check_http_path(source: ManifestSource, key: KeyPath, path: Any) -> str:
    """Check an API Gateway route path such as "/users/{id}" or "/files/{proxy+}"."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise source.error(key, expected('a path starting with "/", such as "/hello/{name}"', path))
    if path == "/":
        return path

    segments = path[1:].split("/")
    names: set[str] = set()
    for index, segment in enumerate(segments):
        if not segment:
            raise source.error(
                key, expected('a path without empty segments or a trailing "/"', path)
            )
        if "{" not in segment and "}" not in segment:
            if not _LITERAL_SEGMENT_RE.match(segment):
                raise source.error(
                    key,
                    f"invalid segment {describe(segment)} in path {describe(path)}, expected "
                    "letters, digits and the characters ._~!$&'()*+,;=:@%-",
                )
            continue

        match = _PATH_PARAMETER_RE.match(segment)
        if not match:
            raise source.error(
                key,
                f"invalid parameter {describe(segment)} in path {describe(path)}, expected a "
                "whole segment such as {id} or {proxy+}, with a name of " + PATH_PARAMETER_RULE,
            )
        name, greedy = match.groups()
        if greedy and index != len(segments) - 1:
            raise source.error(
                key,
                f"greedy parameter {describe(segment)} in path {describe(path)} must be the "
                "last segment",
            )
        if name in names:
            raise source.error(
                key, f"parameter {describe(name)} appears twice in path {describe(path)}"
            )
        names.add(name)
    return path


@dataclass(frozen=True)
class Route:
    """An HTTP event together with where it was declared, for conflict messages."""

    event: HttpEvent
    function: str
    key: KeyPath


def _route_shape(event: HttpEvent) -> tuple[str, str]:
    # "/users/{id}" and "/users/{name}" match the same requests, so parameter
    # names do not count when two routes are compared. An HTTP API route with
    # a stage is served only under "/STAGE", so that is part of its path.
    path = event.path
    if event.api is ApiType.HTTP and event.stage is not None:
        path = f"{event.stage} {path}" if path == DEFAULT_ROUTE else f"/{event.stage}{path}".rstrip("/")
    segments = []
    for segment in path.split("/"):
        match = _PATH_PARAMETER_RE.match(segment)
        if match is None:
            segments.append(segment)
        elif match.group(2):
            segments.append("{+}")
        else:
            segments.append("{}")
    return event.method, "/".join(segments)


def check_routes_unique(source: ManifestSource, routes: Iterable[Route]) -> None:
    """Raise if two events, in one function or in two, claim the same method and path."""
    clash = next(_route_clashes(source, routes), None)
    if clash is not None:
        raise clash


def check_routes(problems: ManifestProblems, routes: Iterable[Route]) -> None:
    """Record each route under a path Squall serves itself, and each route that claims an earlier one's requests."""
    from squall.gateway.router import reserved_route_problem

    served: list[Route] = []
    for route in routes:
        problem = reserved_route_problem(route.event)
        if problem is None:
            served.append(route)
        else:
            problems.add_reserved_route(problems.source.error(route.key, problem))
    for clash in _route_clashes(problems.source, served):
        problems.add(clash)


def _route_clashes(source: ManifestSource, routes: Iterable[Route]) -> Iterator[ManifestError]:
    seen: dict[tuple[str, str], Route] = {}
    for route in routes:
        shape = _route_shape(route.event)
        first = seen.get(shape)
        if first is None:
            seen[shape] = route
            continue
        if route.event.path == first.event.path:
            clash = f"route {route.event.method} {route.event.path} is already declared"
        else:
            clash = (
                f"route {route.event.method} {route.event.path} matches the same requests as "
                f"{first.event.path}, declared"
            )
        yield source.error(
            route.key,
            f"{clash} by function {describe(first.function)} at {dotted(first.key)}, expected each "
            "method and path to belong to one function",
        )


# Collecting every mistake ---------------------------------------------------

# Lines listed after the first mistake before the rest are only counted.
MAX_OTHER_PROBLEMS = 10


@dataclass
class Attempt:
    """The outcome of one `ManifestProblems.collect()` block, to read after the block."""

    failed: bool = False


class ManifestProblems:
    """The mistakes found in one manifest, raised together as one ManifestError.

    A reader runs each independent check in its own `collect()` block, which
    records the check's ManifestError and lets reading go on. A check that
    needs the result of a failed one is skipped, so that one mistake is
    reported once and not again through its consequences.
    """

    # The exception types `collect()` records. A reader that raises its own
    # types as well adds them here and translates them in `as_manifest_error`.
    caught: tuple[type[Exception], ...] = (ManifestError,)

    def __init__(self, source: ManifestSource, document: Any) -> None:
        self.source = source
        self._document = document
        self._errors: list[ManifestError] = []
        self._reserved_routes: list[ManifestError] = []

    def __len__(self) -> int:
        return len(self._errors) + len(self._reserved_routes)

    @contextmanager
    def collect(self) -> Iterator[Attempt]:
        """Record the error raised in the block instead of letting it end the reading."""
        attempt = Attempt()
        try:
            yield attempt
        except self.caught as error:
            attempt.failed = True
            self._errors.append(self.as_manifest_error(error))

    def as_manifest_error(self, error: Exception) -> ManifestError:
        """Translate an error of `caught` into a ManifestError."""
        if not isinstance(error, ManifestError):
            raise TypeError(f"{type(self).__name__} does not translate {type(error).__name__}") from error
        return error

    def add(self, error: ManifestError) -> None:
        self._errors.append(error)

    def add_reserved_route(self, error: ManifestError) -> None:
        """Record a route under a path Squall serves itself.

        Router rejects such a route too, at plan and at deploy, with its own
        RouteError. A manifest whose only mistake is one such route is left to
        it, so that the message and the error type stay what they were before
        manifests listed every mistake.
        """
        self._reserved_routes.append(error)

    def raise_if_any(self) -> None:
        """Raise one ManifestError naming every recorded mistake, the first in the file first."""
        if not self._errors and len(self._reserved_routes) <= 1:
            return
        raise combine_errors(self._document, [*self._errors, *self._reserved_routes])


def combine_errors(document: Any, errors: list[ManifestError]) -> ManifestError:
    """Build one error from several: the first in the file, with each other one on an "also" line.

    An error of another file (a samconfig.toml beside a template) names its
    file on its line.
    """
    ordered = sorted(errors, key=lambda error: document_position(document, error.key))
    first = ordered[0]
    # A mistake in a value that several functions share, such as a SAM
    # template's Globals, is found once per function but listed once.
    listed = {(first.path, first.key, first.detail)}
    others: list[str] = []
    for error in ordered[1:]:
        if (error.path, error.key, error.detail) in listed:
            continue
        listed.add((error.path, error.key, error.detail))
        where = f"{error.key}: " if error.key else ""
        if error.path != first.path:
            where = f"{error.path}: {where}"
        others.append(f"\n  also {where}{error.detail}")
    if len(others) > MAX_OTHER_PROBLEMS:
        others[MAX_OTHER_PROBLEMS:] = [f"\n  and {len(others) - MAX_OTHER_PROBLEMS} more"]
    return ManifestError(first.path, first.key, first.detail + "".join(others))


def document_position(document: Any, key: str) -> tuple[int, ...]:
    """Return where a dotted key path such as "functions.greet.events[0].http" sits in the file.

    Mappings keep the order of the file, so the indexes of the keys along the
    path sort mistakes as they appear. A key missing from the document sorts
    after its present siblings.
    """
    position: list[int] = []
    value = document
    rest = key
    while rest:
        if rest.startswith("["):
            end = rest.find("]")
            index_text = rest[1:end] if end > 0 else ""
            if not (isinstance(value, list) and index_text.isdigit() and int(index_text) < len(value)):
                position.append(len(value) if isinstance(value, list) else 0)
                break
            position.append(int(index_text))
            value = value[int(index_text)]
            rest = rest[end + 1 :].removeprefix(".")
            continue

        # A key may contain "." or "[" itself, so the longest key of the
        # mapping that the rest of the path starts with is taken.
        part = _leading_key(value, rest) if isinstance(value, dict) else None
        if part is None:
            position.append(len(value) if isinstance(value, (dict, list)) else 0)
            break
        position.append(list(value).index(part))
        value = value[part]
        rest = rest[len(str(part)) :].removeprefix(".")
    return tuple(position)


def _leading_key(mapping: dict[Any, Any], path: str) -> Any:
    matches = [
        name
        for name in mapping
        if path == str(name) or path.startswith((f"{name}.", f"{name}["))
    ]
    return max(matches, key=lambda name: len(str(name)), default=None)
