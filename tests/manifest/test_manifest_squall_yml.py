"""squall.yml: valid manifests, defaults, and the messages for invalid ones."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import (
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    HttpEvent,
)
from squall.manifest.squall_yml import SCHEMA

WriteService = Callable[..., Path]

FULL_MANIFEST = """\
service: hello
functions:
  greet:
    handler: app.greet
    memory_mb: 256
    timeout_s: 30
    environment: {GREETING: hi, COUNT: 3, RATIO: 1.5, DEBUG: true}
    reserved_concurrency: 10
    provisioned: 2
    keep_alive_s: 120
    max_queue: 50
    events:
      - http: {method: get, path: "/hello/{name}"}
      - http: {method: ANY, path: "/v1/{proxy+}", payload: "1.0"}
      - http: {method: Post, path: /, payload: 2.0}
"""


def test_minimal_function_gets_defaults(write_service: WriteService) -> None:
    folder = write_service(
        """
        service: hello
        functions:
          greet:
            handler: app.greet
        """
    )

    spec = load_service(Path("."))

    assert spec.service == "hello"
    assert spec.root == folder.resolve()
    assert spec.manifest_path == folder.resolve() / "squall.yml"
    assert spec.warnings == ()
    greet = spec.functions["greet"]
    assert greet.name == "greet"
    assert greet.handler == "app.greet"
    assert greet.memory_mb == DEFAULT_MEMORY_MB
    assert greet.timeout_s == DEFAULT_TIMEOUT_S
    assert greet.environment == {}
    assert greet.reserved_concurrency is None
    assert greet.provisioned == 0
    assert greet.keep_alive_s == DEFAULT_KEEP_ALIVE_S
    assert greet.max_queue is None
    assert greet.http == ()
    assert greet.runtime == "python3"


def test_every_field_is_read(write_service: WriteService) -> None:
    write_service(FULL_MANIFEST)

    greet = load_service(Path(".")).functions["greet"]

    assert greet.memory_mb == 256
    assert greet.timeout_s == 30
    assert greet.environment == {"GREETING": "hi", "COUNT": "3", "RATIO": "1.5", "DEBUG": "true"}
    assert greet.reserved_concurrency == 10
    assert greet.provisioned == 2
    assert greet.keep_alive_s == 120
    assert greet.max_queue == 50
    assert greet.http == (
        HttpEvent("GET", "/hello/{name}", "2.0"),
        HttpEvent("ANY", "/v1/{proxy+}", "1.0"),
        HttpEvent("POST", "/", "2.0"),
    )


def test_whole_float_counts_as_integer(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          greet: {handler: app.greet, timeout_s: 10.0, memory_mb: 512.0}
        """
    )

    greet = load_service(Path(".")).functions["greet"]

    assert greet.timeout_s == 10
    assert type(greet.timeout_s) is int
    assert greet.memory_mb == 512


@pytest.mark.parametrize(
    ("handler", "module_file", "module"),
    [
        ("app.greet", "app.py", "app"),
        ("pkg.app.greet", "pkg/app.py", "pkg.app"),
        ("src/app.greet", "src/app.py", "src.app"),
        ("src/pkg.app.greet", "src/pkg/app.py", "src.pkg.app"),
        ("pkg.greet", "pkg/__init__.py", "pkg"),
        # Lambda's runtime imports these with importlib, which takes a hyphen in a file or folder name.
        ("my-handlers/api.greet", "my-handlers/api.py", "my-handlers.api"),
        ("user-api.greet", "user-api.py", "user-api"),
    ],
)
def test_handler_forms(
    write_service: WriteService, handler: str, module_file: str, module: str
) -> None:
    write_service(
        f"""
        service: hello
        functions:
          greet: {{handler: "{handler}"}}
        """,
        modules=(module_file,),
    )

    greet = load_service(Path(".")).functions["greet"]

    assert greet.handler == handler
    assert greet.module == module
    assert greet.attribute == "greet"


def test_yaml_merge_may_override_keys(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          small: &base {handler: app.greet, memory_mb: 256, timeout_s: 5}
          large:
            <<: *base
            memory_mb: 2048
        """
    )

    functions = load_service(Path(".")).functions

    assert functions["small"].memory_mb == 256
    assert functions["large"].memory_mb == 2048
    assert functions["large"].timeout_s == 5


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def _function_manifest(settings: str) -> str:
    """Return a one-function squall.yml with extra lines under the function."""
    body = textwrap.indent(textwrap.dedent(settings).strip("\n"), "    ")
    return f"service: hello\nfunctions:\n  greet:\n    handler: app.greet\n{body}\n"


# (case id, manifest, key path, fragments the message must contain). The
# fragments name the bad value as the file shows it and what would be valid.
BAD_MANIFESTS = [
    (
        "timeout not a number",
        _function_manifest("timeout_s: fast"),
        "functions.greet.timeout_s",
        ['got "fast"', "whole seconds between 1 and 900"],
    ),
    (
        "timeout above maximum",
        _function_manifest("timeout_s: 901"),
        "functions.greet.timeout_s",
        ["got 901", "between 1 and 900"],
    ),
    (
        "timeout fractional",
        _function_manifest("timeout_s: 2.5"),
        "functions.greet.timeout_s",
        ["got 2.5", "whole seconds"],
    ),
    (
        "memory below minimum",
        _function_manifest("memory_mb: 64"),
        "functions.greet.memory_mb",
        ["got 64", "between 128 and 10240"],
    ),
    (
        "memory boolean",
        _function_manifest("memory_mb: true"),
        "functions.greet.memory_mb",
        ["got true", "between 128 and 10240"],
    ),
    (
        "reserved negative",
        _function_manifest("reserved_concurrency: -1"),
        "functions.greet.reserved_concurrency",
        ["got -1", "0 or more"],
    ),
    (
        "provisioned above reserved",
        _function_manifest("reserved_concurrency: 2\nprovisioned: 5"),
        "functions.greet.provisioned",
        ["got 5", "at most reserved_concurrency (2)"],
    ),
    (
        "keep alive zero",
        _function_manifest("keep_alive_s: 0"),
        "functions.greet.keep_alive_s",
        ["got 0", "1 or more"],
    ),
    (
        "max queue text",
        _function_manifest("max_queue: many"),
        "functions.greet.max_queue",
        ['got "many"', "0 or more"],
    ),
    (
        "environment value null",
        _function_manifest("environment: {GREETING: null}"),
        "functions.greet.environment.GREETING",
        ["got null", "a string, number or boolean"],
    ),
    (
        "environment name with space",
        _function_manifest('environment: {"MY VAR": x}'),
        "functions.greet.environment.MY VAR",
        ['got "MY VAR"', "letter followed by at least one ASCII letter, digit or underscore"],
    ),
    (
        "environment name not a string",
        _function_manifest("environment: {1: x}"),
        "functions.greet.environment",
        ["key 1 is not a string"],
    ),
    (
        "misspelled function key",
        _function_manifest("timout_s: 3"),
        "functions.greet.timout_s",
        ["unknown key", 'did you mean "timeout_s"', "handler, memory_mb, timeout_s"],
    ),
    (
        "unknown event type",
        _function_manifest("events:\n  - sqs: {queue: jobs}"),
        "functions.greet.events[0].sqs",
        ["unknown key", "expected one of: http"],
    ),
    (
        "event list not a list",
        _function_manifest("events: {http: {method: GET, path: /}}"),
        "functions.greet.events",
        ["got a mapping", "a list of events"],
    ),
    (
        "path without leading slash",
        _function_manifest("events:\n  - http: {method: GET, path: hello}"),
        "functions.greet.events[0].http.path",
        ['got "hello"', 'starting with "/"'],
    ),
    (
        "path with empty segment",
        _function_manifest("events:\n  - http: {method: GET, path: /a//b}"),
        "functions.greet.events[0].http.path",
        ['got "/a//b"', "without empty segments"],
    ),
    (
        "greedy parameter not last",
        _function_manifest('events:\n  - http: {method: GET, path: "/{proxy+}/x"}'),
        "functions.greet.events[0].http.path",
        ['"{proxy+}"', '"/{proxy+}/x"', "must be the last segment"],
    ),
    (
        "parameter name starts with digit",
        _function_manifest('events:\n  - http: {method: GET, path: "/users/{1d}"}'),
        "functions.greet.events[0].http.path",
        ['"{1d}"', "letter or underscore"],
    ),
    (
        "parameter inside segment",
        _function_manifest('events:\n  - http: {method: GET, path: "/files/{name}.json"}'),
        "functions.greet.events[0].http.path",
        ['"{name}.json"', "whole segment such as {id} or {proxy+}"],
    ),
    (
        "parameter named twice",
        _function_manifest('events:\n  - http: {method: GET, path: "/a/{id}/b/{id}"}'),
        "functions.greet.events[0].http.path",
        ['"id" appears twice', '"/a/{id}/b/{id}"'],
    ),
    (
        "method unknown",
        _function_manifest("events:\n  - http: {method: FETCH, path: /}"),
        "functions.greet.events[0].http.method",
        ['got "FETCH"', "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY"],
    ),
    (
        "method missing",
        _function_manifest("events:\n  - http: {path: /}"),
        "functions.greet.events[0].http.method",
        ["missing", "an HTTP method"],
    ),
    (
        "payload string 3.0",
        _function_manifest('events:\n  - http: {method: GET, path: /, payload: "3.0"}'),
        "functions.greet.events[0].http.payload",
        ['got "3.0"', '"1.0" (REST API proxy event) or "2.0" (HTTP API event)'],
    ),
    (
        "payload number 3",
        _function_manifest("events:\n  - http: {method: GET, path: /, payload: 3}"),
        "functions.greet.events[0].http.payload",
        ["got 3", '"1.0"'],
    ),
    (
        "handler without function",
        "service: hello\nfunctions:\n  greet: {handler: app}\n",
        "functions.greet.handler",
        ['got "app"', '"module.function"'],
    ),
    (
        "handler module file missing",
        "service: hello\nfunctions:\n  greet: {handler: lib/tools.greet}\n",
        "functions.greet.handler",
        ['"lib/tools.greet"', "lib/tools.py", "lib/tools/__init__.py"],
    ),
    (
        "handler missing",
        "service: hello\nfunctions:\n  greet: {memory_mb: 256}\n",
        "functions.greet.handler",
        ["missing", '"module.function"'],
    ),
    (
        "function settings empty",
        "service: hello\nfunctions:\n  greet:\n",
        "functions.greet",
        ["got null", "a mapping of function settings"],
    ),
    (
        "function name with space",
        "service: hello\nfunctions:\n  say hello: {handler: app.greet}\n",
        "functions",
        ['got "say hello"', "1 to 64 ASCII letters, digits, hyphens or underscores"],
    ),
    (
        "function name too long",
        "service: hello\nfunctions:\n  " + "f" * 65 + ": {handler: app.greet}\n",
        "functions",
        ['got "fff', "1 to 64 ASCII letters"],
    ),
    (
        "no functions",
        "service: hello\nfunctions: {}\n",
        "functions",
        ["got an empty mapping", "with at least one"],
    ),
    (
        "service missing",
        "functions:\n  greet: {handler: app.greet}\n",
        "service",
        ["missing", "a service name"],
    ),
    (
        "service not a string",
        "service: 42\nfunctions:\n  greet: {handler: app.greet}\n",
        "service",
        ["got 42", "a service name of an ASCII letter followed by"],
    ),
    (
        "unknown top-level key",
        "service: hello\nregion: eu-west-1\nfunctions:\n  greet: {handler: app.greet}\n",
        "region",
        ["unknown key", "expected one of: service, functions"],
    ),
]


@pytest.mark.parametrize(
    ("manifest", "key", "fragments"),
    [
        pytest.param(manifest, key, fragments, id=case)
        for case, manifest, key, fragments in BAD_MANIFESTS
    ],
)
def test_bad_manifest_message(
    write_service: WriteService, manifest: str, key: str, fragments: list[str]
) -> None:
    write_service(manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    error = raised.value
    assert error.path == "squall.yml"
    assert error.key == key
    assert str(error).startswith(f"squall.yml: {key}: ")
    for fragment in fragments:
        assert fragment in error.detail


def test_first_error_in_file_order_is_reported(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          first: {handler: app.greet, timeout_s: 0}
          second: {handler: app.greet, memory_mb: 1}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.first.timeout_s"


def test_later_errors_are_listed_after_the_first(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          first: {handler: app.greet, timeout_s: 0, memroy_mb: 256}
          second: {handler: app.greet, memory_mb: 1}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    lines = str(raised.value).splitlines()
    assert lines[0] == "squall.yml: functions.first.timeout_s: expected whole seconds between 1 and 900, got 0"
    assert lines[1].startswith('  also functions.first.memroy_mb: unknown key (did you mean "memory_mb"?)')
    assert lines[2] == "  also functions.second.memory_mb: expected whole megabytes between 128 and 10240, got 1"
    assert len(lines) == 3


def test_empty_file_is_rejected(write_service: WriteService) -> None:
    write_service("")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert str(raised.value) == (
        'squall.yml: the file is empty, expected a mapping with the keys "service", "functions" and optionally "resources"'
    )


def test_yaml_syntax_error_names_line(write_service: WriteService) -> None:
    write_service(
        """\
        service: hello
        functions:
          greet:
            handler: app.greet
            timeout_s: [3
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    message = str(raised.value)
    assert message.startswith("squall.yml: invalid YAML at line ")
    assert raised.value.key == ""


def test_yaml_syntax_error_line_number(write_service: WriteService) -> None:
    write_service("service: hello\nfunctions:\n  greet: {handler: app.greet\n  other: x\n")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert "line 4" in str(raised.value)


def test_duplicate_key_is_rejected(write_service: WriteService) -> None:
    write_service(
        """\
        service: hello
        functions:
          greet: {handler: app.greet}
          greet: {handler: app.greet, memory_mb: 256}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    message = str(raised.value)
    assert message.startswith("squall.yml: invalid YAML at line 4")
    assert 'duplicate key "greet", first written at line 3' in message


def test_same_route_in_two_functions(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          first:
            handler: app.greet
            events: [{http: {method: GET, path: /hello}}]
          second:
            handler: app.greet
            events:
              - http: {method: POST, path: /hello}
              - http: {method: get, path: /hello}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    error = raised.value
    assert error.key == "functions.second.events[1].http"
    assert 'GET /hello is already declared by function "first"' in error.detail
    assert "functions.first.events[0].http" in error.detail


def test_routes_differing_in_parameter_name_conflict(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          by_id:
            handler: app.greet
            events: [{http: {method: GET, path: "/users/{id}"}}]
          by_name:
            handler: app.greet
            events: [{http: {method: GET, path: "/users/{name}"}}]
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.by_name.events[0].http"
    assert "matches the same requests as /users/{id}" in raised.value.detail


def test_any_and_get_on_one_path_may_coexist(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          read:
            handler: app.greet
            events: [{http: {method: GET, path: /items}}]
          rest:
            handler: app.greet
            events: [{http: {method: ANY, path: /items}}]
        """
    )

    spec = load_service(Path("."))

    assert spec.functions["rest"].http == (HttpEvent("ANY", "/items", "2.0"),)


def test_missing_module_listed_with_schema_errors(write_service: WriteService) -> None:
    write_service(
        """
        service: hello
        functions:
          first: {handler: nomodule.greet, timeout_s: 0}
          second: {handler: app.greet, memory_mb: 1}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    # One round: the missing module comes with the schema's errors, in file order.
    lines = str(raised.value).splitlines()
    assert lines[0].startswith('squall.yml: functions.first.handler: handler "nomodule.greet" names module "nomodule"')
    assert lines[1] == "  also functions.first.timeout_s: expected whole seconds between 1 and 900, got 0"
    assert lines[2] == "  also functions.second.memory_mb: expected whole megabytes between 128 and 10240, got 1"
    assert len(lines) == 3


def test_tab_indentation_named(write_service: WriteService) -> None:
    write_service("service: hello\nfunctions:\n\tgreet: {handler: app.greet}\n")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    message = str(raised.value)
    assert message.startswith("squall.yml: invalid YAML at line 3, column 1")
    assert "a tab: YAML indents with spaces only" in message
