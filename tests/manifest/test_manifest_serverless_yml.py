"""serverless.yml: the two example services, event forms, defaults, warnings and errors."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.serverless_yml import (
    SERVERLESS_DEFAULT_MEMORY_MB,
    SERVERLESS_DEFAULT_TIMEOUT_S,
)
from squall.manifest.spec import DEFAULT_CORS_HEADERS, ApiType, CorsConfig, FunctionSpec, HttpEvent, ServiceSpec

WriteService = Callable[..., Path]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
LAMBDA_EVENTS = CONFORMANCE / "lambda-events"


def _load_module(spec: ServiceSpec, function: FunctionSpec) -> ModuleType:
    """Import a fixture's handler module by file, without touching sys.path or sys.modules."""
    parts = function.module.split(".")
    module_file = spec.root.joinpath(*parts).with_suffix(".py")
    module_spec = importlib.util.spec_from_file_location(
        f"manifest_fixture_{spec.service}_{function.module}", module_file
    )
    assert module_spec is not None and module_spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _sample_event(name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((LAMBDA_EVENTS / name).read_text(encoding="utf-8"))
    event.update(changes)
    return event


UNSUPPORTED_PREFIX = "not supported by Squall yet, ignored: "


def _warning_keys(spec: ServiceSpec) -> list[str]:
    """Return the key each warning names, and each key of the one warning that lists the keys Squall does not support."""
    keys: list[str] = []
    for warning in spec.warnings:
        if warning.startswith(UNSUPPORTED_PREFIX):
            keys += [name.split(" (", 1)[0] for name in warning.removeprefix(UNSUPPORTED_PREFIX).split(", ")]
        else:
            keys.append(warning.split(": ", 1)[0])
    return keys


# The HTTP API example -------------------------------------------------------


def test_http_api_example_routes() -> None:
    spec = load_service(FIXTURES / "python-http-api")

    assert spec.service == "python-http-api-clock"
    assert spec.root == (FIXTURES / "python-http-api").resolve()
    assert spec.manifest_path == spec.root / "serverless.yml"
    clock = spec.functions["clock"]
    assert clock.handler == "handler.clock"
    assert clock.runtime == "python3.11"
    assert clock.memory_mb == SERVERLESS_DEFAULT_MEMORY_MB
    assert clock.timeout_s == SERVERLESS_DEFAULT_TIMEOUT_S
    assert clock.http == (HttpEvent("GET", "/", "2.0"),)
    assert _warning_keys(spec) == []  # frameworkVersion has no effect in Squall, so it gets no warning.


def test_http_api_example_handler_tells_time() -> None:
    spec = load_service(FIXTURES / "python-http-api")
    clock = _load_module(spec, spec.functions["clock"]).clock
    event = _sample_event("apiGatewayProxyV2Event_GET.json", rawPath="/", routeKey="GET /")

    before = datetime.now(UTC)
    response = clock(event, None)

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["message"].startswith("Hello from Squall, the time is ")
    sent = datetime.fromisoformat(body["time"])
    assert before - timedelta(seconds=1) <= sent <= datetime.now(UTC)


# The REST API example -------------------------------------------------------


def test_rest_api_example_routes() -> None:
    spec = load_service(FIXTURES / "python-rest-api")

    assert spec.service == "python-rest-api-items"
    routes = {
        name: (function.module, function.attribute, function.http)
        for name, function in spec.functions.items()
    }
    def rest(method: str, path: str, cors: bool) -> HttpEvent:
        # `cors: true` allows any origin, the Framework's default headers, OPTIONS and the event's method.
        config = CorsConfig(("*",), DEFAULT_CORS_HEADERS, ("OPTIONS", method)) if cors else None
        return HttpEvent(method, path, "1.0", "dev", cors=config)

    assert routes == {
        "create": ("src.items", "create", (rest("POST", "/items", cors=True),)),
        "list": ("src.items", "list_items", (rest("GET", "/items", cors=False),)),
        "get": ("src.items", "get", (rest("GET", "/items/{id}", cors=True),)),
        "update": ("src.items", "update", (rest("PUT", "/items/{id}", cors=True),)),
        "delete": ("src.items", "delete", (rest("DELETE", "/items/{id}", cors=True),)),
    }


def test_rest_api_example_warnings() -> None:
    spec = load_service(FIXTURES / "python-rest-api")

    assert _warning_keys(spec) == []
    # ${self:service}-${opt:stage, self:provider.stage}, with no stage option given.
    table = "python-rest-api-items-dev"
    assert all(
        function.environment == {"ITEMS_TABLE": table} for function in spec.functions.values()
    )


def test_rest_api_example_handlers_crud() -> None:
    spec = load_service(FIXTURES / "python-rest-api")
    # One module object, so that items stored by one handler are read by the next.
    module = _load_module(spec, spec.functions["create"])
    handlers = {
        name: getattr(module, function.attribute) for name, function in spec.functions.items()
    }

    created = handlers["create"](
        _sample_event("apiGatewayProxyEvent.json", body='{"text": "milk"}'), None
    )
    assert created["statusCode"] == 201
    item = json.loads(created["body"])
    assert item["text"] == "milk"

    by_id = _sample_event("apiGatewayProxyEvent.json", pathParameters={"id": item["id"]}, body=None)
    fetched = handlers["get"](by_id, None)
    assert fetched["statusCode"] == 200
    assert json.loads(fetched["body"])["text"] == "milk"

    update_event = dict(by_id, body='{"text": "oat milk"}')
    assert json.loads(handlers["update"](update_event, None)["body"])["text"] == "oat milk"
    assert len(json.loads(handlers["list"](by_id, None)["body"])) == 1

    assert handlers["delete"](by_id, None)["statusCode"] == 204
    assert handlers["get"](by_id, None)["statusCode"] == 404


# Event forms, defaults and warnings -----------------------------------------


def _one_function(
    events: str, provider: str = "name: aws\nruntime: python3.12", extra: str = ""
) -> str:
    """Return a serverless.yml with one function `hello` and the given events list."""
    return (
        "service: forms\n"
        "provider:\n" + textwrap.indent(textwrap.dedent(provider).strip("\n"), "  ") + "\n"
        "functions:\n  hello:\n    handler: app.greet\n"
        + textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ")
        + ("\n" if extra else "")
        + "    events:\n"
        + textwrap.indent(textwrap.dedent(events).strip("\n"), "      ")
        + "\n"
    )


@pytest.mark.parametrize(
    ("events", "routes"),
    [
        pytest.param("- http: GET hello", [("GET", "/hello", "1.0", "dev")], id="http string"),
        pytest.param(
            '- http: "get /hello/{name}"', [("GET", "/hello/{name}", "1.0", "dev")], id="http string slash"
        ),
        pytest.param(
            "- http: {path: hello, method: get}", [("GET", "/hello", "1.0", "dev")], id="http mapping"
        ),
        pytest.param(
            "- http: {path: items/, method: post}",
            [("POST", "/items", "1.0", "dev")],
            id="http trailing slash",
        ),
        pytest.param("- http: {path: /, method: get}", [("GET", "/", "1.0", "dev")], id="http root"),
        pytest.param(
            "- http: {path: 'v1/{proxy+}', method: any}",
            [("ANY", "/v1/{proxy+}", "1.0", "dev")],
            id="http any proxy",
        ),
        pytest.param("- httpApi: 'GET /hello'", [("GET", "/hello", "2.0")], id="httpApi string"),
        pytest.param(
            "- httpApi: '*'",
            [("ANY", "$default", "2.0")],
            id="httpApi catch-all",
        ),
        pytest.param(
            "- httpApi: {method: GET, path: '/users/{id}'}",
            [("GET", "/users/{id}", "2.0")],
            id="httpApi mapping",
        ),
        pytest.param(
            "- httpApi: {method: '*', path: /users}",
            [("ANY", "/users", "2.0")],
            id="httpApi any method",
        ),
        pytest.param(
            "- httpApi: {method: post, path: '*'}",
            [("POST", "/", "2.0"), ("POST", "/{proxy+}", "2.0")],
            id="httpApi any path",
        ),
        pytest.param(
            "- http: GET rest\n- httpApi: GET /api",
            [("GET", "/rest", "1.0", "dev"), ("GET", "/api", "2.0")],
            id="both kinds",
        ),
    ],
)
def test_http_event_forms(
    write_service: WriteService, events: str, routes: list[tuple[str, ...]]
) -> None:
    write_service(_one_function(events), name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.functions["hello"].http == tuple(HttpEvent(*route) for route in routes)
    assert spec.warnings == ()


def test_provider_defaults_and_overrides(write_service: WriteService) -> None:
    write_service(
        """
        service: merged
        provider:
          name: aws
          runtime: python3.12
          memorySize: 512
          timeout: 10
          environment: {SHARED: one, LEVEL: provider, PORT: 8080}
        functions:
          plain:
            handler: app.greet
          tuned:
            handler: app.greet
            runtime: python3.13
            memorySize: 2048
            timeout: 20
            environment: {LEVEL: function, DEBUG: false}
            reservedConcurrency: 5
            provisionedConcurrency: 2
        """,
        name="serverless.yml",
    )

    functions = load_service(Path(".")).functions

    plain = functions["plain"]
    assert (plain.runtime, plain.memory_mb, plain.timeout_s) == ("python3.12", 512, 10)
    assert plain.environment == {"SHARED": "one", "LEVEL": "provider", "PORT": "8080"}
    assert plain.reserved_concurrency is None
    assert plain.provisioned == 0
    tuned = functions["tuned"]
    assert (tuned.runtime, tuned.memory_mb, tuned.timeout_s) == ("python3.13", 2048, 20)
    assert tuned.environment == {
        "SHARED": "one",
        "LEVEL": "function",
        "PORT": "8080",
        "DEBUG": "false",
    }
    assert tuned.reserved_concurrency == 5
    assert tuned.provisioned == 2


def test_missing_runtime_means_python(write_service: WriteService) -> None:
    write_service(
        "service: bare\nfunctions:\n  hello: {handler: app.greet}\n", name="serverless.yml"
    )

    spec = load_service(Path("."))

    assert spec.functions["hello"].runtime == "python3"
    assert spec.warnings == ()


def test_unknown_keys_warned_exactly_once(write_service: WriteService) -> None:
    write_service(
        """
        service: busy
        frameworkVersion: "3"
        plugins: [serverless-python-requirements]
        custom:
          pythonRequirements: {dockerizePip: true, slim: true}
          stage: ${opt:stage, 'dev'}
        package: {patterns: ["!node_modules/**"]}
        provider:
          name: aws
          runtime: python3.12
          region: eu-west-1
          iam: {role: {statements: [{Effect: Allow, Action: ["s3:*"], Resource: "*"}]}}
          environment:
            STAGE: ${opt:stage}
        functions:
          hello:
            handler: app.greet
            layers: [arn:aws:lambda:eu-west-1:123456789012:layer:deps:1]
            events:
              - http: {path: hello, method: get, cors: true, authorizer: aws_iam}
              - sqs: {arn: "arn:aws:sqs:eu-west-1:123456789012:jobs", batchSize: 10}
              - httpApi: {method: GET, path: /hi, authorizer: {name: jwt}}
          other:
            handler: app.greet
            description: uses the same provider STAGE variable
            events:
              - schedule: rate(5 minutes)
              - sns: alerts
        resources:
          Resources:
            Bucket: {Type: "AWS::S3::Bucket"}
            Alerts: {Type: "AWS::SNS::Topic"}
        """,
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    keys = _warning_keys(spec)
    assert Counter(keys).most_common(1)[0][1] == 1
    assert spec.package_patterns == ("!node_modules/**",)
    assert set(keys) == {
        "provider.iam",
        "provider.region",
        "functions.hello.layers[0]",
        "functions.hello.events[0].http.authorizer",
        "functions.hello.events[2].httpApi.authorizer",
        "functions.other.description",
        "functions.other.events[1].sns",
        "resources.Resources.Alerts",
    }
    assert spec.functions["hello"].http == (
        HttpEvent("GET", "/hello", "1.0", "dev", cors=CorsConfig(("*",), DEFAULT_CORS_HEADERS, ("OPTIONS", "GET"))),
        HttpEvent("GET", "/hi", "2.0"),
    )
    assert spec.functions["other"].environment == {"STAGE": "dev"}


@pytest.mark.parametrize(
    ("provider", "extra", "payload"),
    [
        pytest.param("httpApi: {payload: '1.0'}", "", "1.0", id="provider"),
        pytest.param("httpApi: {payload: 1.0}", "", "1.0", id="provider unquoted"),
        pytest.param("httpApi: {payload: '1.0'}", "httpApi: {payload: '2.0'}", "2.0", id="function overrides"),
        pytest.param("", "httpApi: {payload: '1.0'}", "1.0", id="function"),
    ],
)
def test_http_api_payload_setting(write_service: WriteService, provider: str, extra: str, payload: str) -> None:
    events = "- httpApi: GET /hello\n- httpApi: '*'\n- http: GET rest"
    write_service(
        _one_function(events, provider=f"name: aws\nruntime: python3.12\n{provider}", extra=extra),
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    assert spec.functions["hello"].http == (
        HttpEvent("GET", "/hello", payload, api=ApiType.HTTP),
        HttpEvent("ANY", "$default", payload, api=ApiType.HTTP),
        HttpEvent("GET", "/rest", "1.0", "dev", api=ApiType.REST),
    )
    assert spec.warnings == ()


def test_http_api_payload_must_be_a_version(write_service: WriteService) -> None:
    write_service(
        _one_function("- httpApi: GET /hello", provider="name: aws\nruntime: python3.12\nhttpApi: {payload: '3.0'}"),
        name="serverless.yml",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert "provider.httpApi.payload" in str(raised.value)
    assert '"1.0" or "2.0"' in str(raised.value)


def test_http_api_path_needs_leading_slash(write_service: WriteService) -> None:
    write_service(_one_function("- httpApi: GET files"), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert "functions.hello.events[0].httpApi" in str(raised.value)
    assert 'a path starting with "/"' in str(raised.value)


def test_authorizers_get_a_warning_of_their_own(write_service: WriteService) -> None:
    write_service(
        _one_function("- http: {path: hello, method: get, private: true}\n- httpApi: {method: GET, path: /hi, authorizer: {name: jwt}}"),
        name="serverless.yml",
    )

    warnings = load_service(Path(".")).warnings

    assert any("functions.hello.events[1].httpApi.authorizer: Squall has no authorizers" in warning for warning in warnings)
    assert any("functions.hello.events[0].http.private: Squall has no API keys" in warning for warning in warnings)
    assert not any("not supported" in warning for warning in warnings)


def test_warning_messages_say_what_happens(write_service: WriteService) -> None:
    write_service(
        _one_function(
            "- sns: alerts", provider="name: aws\nruntime: python3.12\ntracing: {lambda: true}"
        ),
        name="serverless.yml",
    )

    warnings = load_service(Path(".")).warnings

    assert warnings == (
        "not supported by Squall yet, ignored: provider.tracing, functions.hello.events[0].sns (event type)",
    )


def test_cloudformation_tags_are_warned(write_service: WriteService) -> None:
    write_service(
        """
        service: tagged
        provider:
          name: aws
          runtime: python3.12
          environment:
            BUCKET: !Ref Uploads
            QUEUE_URL: {Ref: Jobs}
            PLAIN: kept
        functions:
          hello: {handler: app.greet}
        resources:
          Outputs:
            UploadsArn: {Value: !GetAtt Uploads.Arn}
        """,
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    assert spec.functions["hello"].environment == {"PLAIN": "kept"}
    assert _warning_keys(spec) == [
        "provider.environment.BUCKET",
        "provider.environment.QUEUE_URL",
        "resources.Outputs",
    ]
    assert spec.warnings[1] == (
        "provider.environment.QUEUE_URL: Squall cannot evaluate Ref Jobs, so the variable is not set: Jobs is "
        "neither a queue, bucket, table or stream under resources.Resources nor a pseudo parameter such as AWS::Region"
    )


def test_variable_in_service_name_resolved(
    write_service: WriteService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_NAME", "from-env")
    write_service(
        "service: ${env:SERVICE_NAME}\nfunctions:\n  hello: {handler: app.greet}\n",
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    assert spec.service == "from-env"
    assert spec.warnings == ()


def test_environment_mapping_from_file(write_service: WriteService) -> None:
    folder = write_service(
        _one_function("- httpApi: GET /", extra="environment: ${file(env.yml)}"),
        name="serverless.yml",
    )
    (folder / "env.yml").write_text("LEVEL: debug\nRETRIES: 3\n", encoding="utf-8")

    spec = load_service(Path("."))

    assert spec.functions["hello"].environment == {"LEVEL": "debug", "RETRIES": "3"}
    assert spec.warnings == ()


# Errors ---------------------------------------------------------------------

BAD_SERVERLESS = [
    (
        "provider runtime nodejs",
        _one_function("- httpApi: GET /", provider="runtime: nodejs18.x"),
        "provider.runtime",
        ['got "nodejs18.x"', 'a Python 3 runtime "python3.N", such as "python3.12"'],
    ),
    (
        "environment value mapping",
        _one_function("- httpApi: GET /", extra="environment: {CONF: {a: 1}}"),
        "functions.hello.environment.CONF",
        ["got a mapping", "a string, number, boolean or CloudFormation function such as Ref"],
    ),
    (
        "function runtime java",
        _one_function("- httpApi: GET /", extra="runtime: java21"),
        "functions.hello.runtime",
        ['got "java21"', "a Python 3 runtime"],
    ),
    (
        "runtime variable",
        _one_function("- httpApi: GET /", provider="runtime: ${self:custom.runtime}"),
        "provider.runtime",
        ["cannot resolve ${self:custom.runtime}", "custom.runtime is not set in serverless.yml"],
    ),
    (
        "memory variable",
        _one_function("- httpApi: GET /", extra="memorySize: ${self:custom.memory}"),
        "functions.hello.memorySize",
        ["cannot resolve ${self:custom.memory}", "${self:custom.memory, 'value'}"],
    ),
    (
        "provider memory too small",
        _one_function(
            "- httpApi: GET /", provider="name: aws\nruntime: python3.12\nmemorySize: 64"
        ),
        "provider.memorySize",
        ["got 64", "whole megabytes between 128 and 10240"],
    ),
    (
        "timeout zero",
        _one_function("- httpApi: GET /", extra="timeout: 0"),
        "functions.hello.timeout",
        ["got 0", "whole seconds between 1 and 900"],
    ),
    (
        "timeout text",
        _one_function("- httpApi: GET /", extra="timeout: thirty"),
        "functions.hello.timeout",
        ['got "thirty"', "whole seconds"],
    ),
    (
        "provisioned above reserved",
        _one_function(
            "- httpApi: GET /", extra="reservedConcurrency: 1\nprovisionedConcurrency: 3"
        ),
        "functions.hello.provisionedConcurrency",
        ["got 3", "at most reservedConcurrency (1)"],
    ),
    (
        "provider not aws",
        _one_function("- httpApi: GET /", provider="name: azure"),
        "provider.name",
        ['got "azure"', 'expected "aws"'],
    ),
    (
        "handler missing",
        "service: s\nfunctions:\n  hello: {image: {name: app}}\n",
        "functions.hello.handler",
        ["missing (container images are not supported)", '"module.function"'],
    ),
    (
        "handler file missing",
        "service: s\nfunctions:\n  hello: {handler: src/handler.hello}\n",
        "functions.hello.handler",
        ['"src/handler.hello"', "src/handler.py", "src/handler/__init__.py"],
    ),
    (
        "handler variable",
        "service: s\nfunctions:\n  hello: {handler: '${self:custom.handler}'}\n",
        "functions.hello.handler",
        ["cannot resolve ${self:custom.handler}", "custom.handler is not set"],
    ),
    (
        "http method unknown",
        _one_function("- http: {path: hello, method: fetch}"),
        "functions.hello.events[0].http.method",
        ['got "fetch"', "an HTTP method (GET, POST"],
    ),
    (
        "http string with three words",
        _one_function("- http: GET hello now"),
        "functions.hello.events[0].http",
        ['got "GET hello now"', '"METHOD path", such as "GET /hello"'],
    ),
    (
        "http path missing",
        _one_function("- http: {method: get}"),
        "functions.hello.events[0].http.path",
        ["missing", "path"],
    ),
    (
        "http star is not a REST method",
        _one_function("- http: '* /hello'"),
        "functions.hello.events[0].http",
        ['got "*"', "an HTTP method"],
    ),
    (
        "httpApi greedy not last",
        _one_function("- httpApi: 'GET /{proxy+}/tail'"),
        "functions.hello.events[0].httpApi",
        ['"/{proxy+}/tail"', "must be the last segment"],
    ),
    (
        "httpApi path variable",
        _one_function("- httpApi: {method: GET, path: '/${self:custom.base}'}"),
        "functions.hello.events[0].httpApi.path",
        ["cannot resolve ${self:custom.base}"],
    ),
    (
        "event entry not a mapping",
        _one_function("- http"),
        "functions.hello.events[0]",
        ['got "http"', "an event mapping"],
    ),
    (
        "environment value list",
        _one_function("- httpApi: GET /", extra="environment: {NAMES: [a, b]}"),
        "functions.hello.environment.NAMES",
        ["got a list", "a string, number or boolean"],
    ),
    (
        "function name with dot",
        "service: s\nfunctions:\n  hello.world: {handler: app.greet}\n",
        "functions",
        ['got "hello.world"', "1 to 64 ASCII letters, digits, hyphens or underscores"],
    ),
    (
        "no functions",
        "service: s\nprovider: {name: aws, runtime: python3.12}\n",
        "functions",
        ["got null", "with at least one"],
    ),
    (
        "service missing",
        "provider: {name: aws}\nfunctions:\n  hello: {handler: app.greet}\n",
        "service",
        ["got null", "a service name"],
    ),
    (
        "same route in two functions",
        "service: s\nfunctions:\n"
        "  a: {handler: app.greet, events: [{httpApi: '*'}]}\n"
        "  b: {handler: app.greet, events: [{httpApi: {method: ANY, path: /}}, {httpApi: '*'}]}\n",
        "functions.b.events[1].httpApi",
        ['ANY $default is already declared by function "a" at functions.a.events[0].httpApi'],
    ),
]


@pytest.mark.parametrize(
    ("manifest", "key", "fragments"),
    [
        pytest.param(manifest, key, fragments, id=case)
        for case, manifest, key, fragments in BAD_SERVERLESS
    ],
)
def test_bad_serverless_message(
    write_service: WriteService, manifest: str, key: str, fragments: list[str]
) -> None:
    write_service(manifest, name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    error = raised.value
    assert error.path == "serverless.yml"
    assert error.key == key
    assert str(error).startswith(f"serverless.yml: {key}: ")
    for fragment in fragments:
        assert fragment in error.detail


def test_serverless_yaml_error_names_line(write_service: WriteService) -> None:
    write_service(
        "service: s\nprovider:\n  name: aws\n   runtime: python3.12\n", name="serverless.yml"
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert str(raised.value).startswith("serverless.yml: invalid YAML at line 4")


def test_package_patterns_merge_include_exclude(write_service: WriteService) -> None:
    write_service(
        """
        service: packed
        package:
          exclude: [tests/**]
          include: [tests/fixtures/keep.json]
          patterns: ["!**/*.md"]
        provider: {name: aws, runtime: python3.12}
        functions:
          hello:
            handler: app.greet
            package: {patterns: ["!big/**"]}
        """,
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    assert spec.package_patterns == ("!tests/**", "tests/fixtures/keep.json", "!**/*.md")
    assert "functions.hello.package.patterns" in _warning_keys(spec)


def test_package_patterns_must_be_globs(write_service: WriteService) -> None:
    write_service(
        """
        service: packed
        package: {patterns: "!tests/**"}
        provider: {name: aws, runtime: python3.12}
        functions:
          hello: {handler: app.greet}
        """,
        name="serverless.yml",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "package.patterns"
    assert "expected a list of glob patterns such as '!tests/**'" in raised.value.detail


def test_event_type_typo_gets_a_suggestion(write_service: WriteService) -> None:
    write_service(_one_function("- htttp: GET hello\n- websocket: $connect"), name="serverless.yml")

    warnings = load_service(Path(".")).warnings

    assert 'functions.hello.events[0].htttp: unknown event type, did you mean "http"? ignored' in warnings
    # A Framework event type Squall does not serve is listed as not supported, not as a typo.
    assert any("functions.hello.events[1].websocket (event type)" in warning for warning in warnings)


def test_misspelt_functions_key_is_named(write_service: WriteService) -> None:
    write_service("service: typo\nprovider: {name: aws}\nfunction:\n  hello: {handler: app.greet}\n", name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert 'found "function", did you mean "functions"?' in str(raised.value)


def test_other_requirements_file_is_warned(write_service: WriteService) -> None:
    write_service(
        _one_function("- httpApi: GET /hello").replace(
            "service: forms\n", "service: forms\ncustom: {pythonRequirements: {fileName: requirements/prod.txt}}\n"
        ),
        name="serverless.yml",
    )

    warnings = load_service(Path(".")).warnings

    assert any(
        warning.startswith("custom.pythonRequirements.fileName: Squall installs the requirements.txt nearest each handler")
        for warning in warnings
    )


def test_squall_yml_beside_serverless_yml_is_said(write_service: WriteService) -> None:
    write_service(_one_function("- httpApi: GET /hello"), name="serverless.yml")
    write_service("service: first\nfunctions:\n  hello: {handler: app.greet}\n", name="squall.yml")

    spec = load_service(Path("."))

    assert spec.service == "first"
    assert "serverless.yml in the same folder is ignored: squall.yml comes first" in spec.warnings


def test_sqs_batch_above_ten_needs_window(write_service: WriteService) -> None:
    write_service(
        _one_function("- sqs: {arn: 'arn:aws:sqs:us-east-1:123456789012:jobs', batchSize: 20}"), name="serverless.yml"
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.hello.events[0].sqs.batchSize"
    assert "maximumBatchingWindow of at least 1 second" in str(raised.value)


def test_requirements_plugin_module_key_is_explained(write_service: WriteService) -> None:
    write_service(_one_function("- httpApi: GET /hello", extra="module: functions/greeter"), name="serverless.yml")

    warnings = load_service(Path(".")).warnings

    assert any(
        warning.startswith("functions.hello.module: a serverless-python-requirements setting")
        and "functions/greeter/app.greet" in warning
        for warning in warnings
    )


def test_event_key_typo_gets_a_suggestion(write_service: WriteService) -> None:
    write_service(
        _one_function("- sqs: {arn: 'arn:aws:sqs:us-east-1:123456789012:jobs', batchSise: 5}"), name="serverless.yml"
    )

    warnings = load_service(Path(".")).warnings

    assert 'functions.hello.events[0].sqs.batchSise: unknown key, did you mean "batchSize"? ignored' in warnings


def test_logs_settings_set_lambdas_variables(write_service: WriteService) -> None:
    write_service(
        _one_function(
            "- httpApi: GET /hello",
            provider="name: aws\nruntime: python3.12\nlogs: {lambda: {logFormat: JSON, applicationLogLevel: INFO}}",
            extra="logs: {applicationLogLevel: DEBUG}",
        ),
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    # The function's level overrides the provider's, as the Framework's logging settings do.
    assert spec.functions["hello"].environment == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    assert spec.warnings == ()
