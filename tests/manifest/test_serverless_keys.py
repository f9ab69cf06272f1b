"""serverless.yml keys Squall does not read: misspellings, Framework keys not supported yet, and the runtime check."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.serverless_yml import SERVERLESS_DEFAULT_MEMORY_MB, SERVERLESS_DEFAULT_TIMEOUT_S
from tests.manifest.conftest import WriteService

UNSUPPORTED_PREFIX = "not supported by Squall yet, ignored: "


def _serverless_yml(provider: str = "", function: str = "", event: str = "httpApi: GET /small") -> str:
    """Return a one-function serverless.yml with extra provider and function lines (each "key: value")."""
    provider_lines = "".join(f"\n  {line}" for line in provider.splitlines())
    function_lines = "".join(f"\n    {line}" for line in function.splitlines())
    return (
        "service: keys\n"
        f"provider:\n  name: aws\n  runtime: python3.12{provider_lines}\n"
        f"functions:\n  small:\n    handler: app.greet{function_lines}\n"
        f"    events:\n      - {event}\n"
    )


def _load_error(write_service: WriteService, manifest: str, name: str = "serverless.yml") -> ManifestError:
    write_service(manifest, name=name)
    with pytest.raises(ManifestError) as caught:
        load_service(Path("."))
    return caught.value


@pytest.mark.parametrize(
    ("manifest", "warning"),
    [
        pytest.param(
            _serverless_yml(function="memorysize: 512"),
            'functions.small.memorysize: unknown key, did you mean "memorySize"? ignored',
            id="function memorysize",
        ),
        pytest.param(
            _serverless_yml(function="timout: 5"),
            'functions.small.timout: unknown key, did you mean "timeout"? ignored',
            id="function timout",
        ),
        pytest.param(
            _serverless_yml(function="Timeout: 5"),
            'functions.small.Timeout: unknown key, did you mean "timeout"? ignored',
            id="function key in another case",
        ),
        pytest.param(
            _serverless_yml(function="enviroment: {LEVEL: debug}"),
            'functions.small.enviroment: unknown key, did you mean "environment"? ignored',
            id="function enviroment",
        ),
        pytest.param(
            _serverless_yml(provider="memorysize: 512"),
            'provider.memorysize: unknown key, did you mean "memorySize"? ignored',
            id="provider memorysize",
        ),
        pytest.param(
            _serverless_yml(provider="runtim: python3.12"),
            'provider.runtim: unknown key, did you mean "runtime"? ignored',
            id="provider runtim",
        ),
        pytest.param(
            _serverless_yml(event="http: {method: get, path: /small, pth: /other}"),
            'functions.small.events[0].http.pth: unknown key, did you mean "path"? ignored',
            id="http event pth",
        ),
        pytest.param(
            _serverless_yml(event="httpApi: {method: GET, path: /small, metod: POST}"),
            'functions.small.events[0].httpApi.metod: unknown key, did you mean "method"? ignored',
            id="httpApi event metod",
        ),
        pytest.param(
            _serverless_yml(function="warmup: {enabled: true}"),
            "functions.small.warmup: unknown key (not a key of the Serverless Framework itself), ignored",
            id="no close key",
        ),
    ],
)
def test_unknown_key_warning(write_service: WriteService, manifest: str, warning: str) -> None:
    write_service(manifest, name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.warnings == (warning,)


def test_misspelled_keys_keep_defaults(write_service: WriteService) -> None:
    write_service(_serverless_yml(function="memorysize: 512\ntimout: 5"), name="serverless.yml")

    spec = load_service(Path("."))

    function = spec.functions["small"]
    assert function.memory_mb == SERVERLESS_DEFAULT_MEMORY_MB
    assert function.timeout_s == SERVERLESS_DEFAULT_TIMEOUT_S
    assert len(spec.warnings) == 2
    assert not any(warning.startswith(UNSUPPORTED_PREFIX) for warning in spec.warnings)


def test_framework_keys_listed_in_one_warning(write_service: WriteService) -> None:
    manifest = """\
        service: keys
        plugins: [serverless-offline]
        provider:
          name: aws
          runtime: python3.12
          vpc: {securityGroupIds: [sg-1], subnetIds: [subnet-1]}
          iamRoleStatements: [{Effect: Allow, Action: ["s3:*"], Resource: "*"}]
        functions:
          small:
            handler: app.greet
            tracing: Active
            memorysize: 512
            events:
              - http: {method: get, path: /small, cors: true}
              - sns: alerts
        resources:
          Resources:
            Alerts: {Type: "AWS::SNS::Topic"}
        custom:
          anything: goes
    """
    write_service(manifest, name="serverless.yml")

    warnings = load_service(Path(".")).warnings

    assert warnings == (
        "plugins: Squall does not run Serverless Framework plugins, so these are ignored: serverless-offline",
        'functions.small.memorysize: unknown key, did you mean "memorySize"? ignored',
        UNSUPPORTED_PREFIX
        + "provider.vpc, provider.iamRoleStatements, functions.small.tracing, "
        + "functions.small.events[1].sns (event type), "
        + 'resources.Resources.Alerts (resource type "AWS::SNS::Topic")',
    )


def test_supported_keys_give_no_warning(write_service: WriteService) -> None:
    write_service(
        _serverless_yml(
            provider="memorySize: 256\ntimeout: 10\nenvironment: {LEVEL: debug}",
            function="memorySize: 512\ntimeout: 5\nreservedConcurrency: 2",
            event="http: {method: get, path: /small}",
        ),
        name="serverless.yml",
    )

    spec = load_service(Path("."))

    assert spec.warnings == ()
    assert spec.functions["small"].memory_mb == 512


@pytest.mark.parametrize(
    ("event", "key", "hint"),
    [
        pytest.param(
            "http: {methd: get, path: /small}", "functions.small.events[0].http.method",
            'missing, expected the route\'s method (found "methd", did you mean "method"?)',
            id="http method",
        ),
        pytest.param(
            "httpApi: {method: GET, paht: /small}", "functions.small.events[0].httpApi.path",
            'missing, expected the route\'s path (found "paht", did you mean "path"?)',
            id="httpApi path",
        ),
    ],
)
def test_missing_key_names_its_misspelling(write_service: WriteService, event: str, key: str, hint: str) -> None:
    error = _load_error(write_service, _serverless_yml(event=event))

    assert error.key == key
    assert error.detail == hint


def test_missing_handler_names_its_misspelling(write_service: WriteService) -> None:
    manifest = "service: keys\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n  small: {hanlder: app.greet}\n"

    error = _load_error(write_service, manifest)

    assert error.key == "functions.small.handler"
    assert error.detail.startswith("missing, expected a handler")
    assert error.detail.endswith('(found "hanlder", did you mean "handler"?)')


# Runtime before handler ------------------------------------------------------

OTHER_LANGUAGE = [
    pytest.param(
        "service: keys\nprovider: {name: aws, runtime: python3.12}\n"
        "functions:\n  small: {handler: index.handler, runtime: nodejs18.x}\n",
        "serverless.yml",
        "functions.small.runtime",
        "nodejs18.x",
        id="serverless function runtime",
    ),
    pytest.param(
        "service: keys\nprovider: {name: aws, runtime: nodejs20.x}\n"
        "functions:\n  small: {handler: index.handler}\n  other: {handler: index.other}\n",
        "serverless.yml",
        "provider.runtime",
        "nodejs20.x",
        id="serverless provider runtime",
    ),
    pytest.param(
        "service: keys\nprovider: {name: aws, runtime: python3.12}\n"
        "functions:\n  small: {handler: com.example.Handler::handleRequest, runtime: java21}\n",
        "serverless.yml",
        "functions.small.runtime",
        "java21",
        id="serverless java handler",
    ),
    pytest.param(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Small:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Handler: index.handler, Runtime: nodejs20.x}\n",
        "template.yaml",
        "Resources.Small.Properties.Runtime",
        "nodejs20.x",
        id="sam function runtime",
    ),
    pytest.param(
        "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function: {Runtime: nodejs20.x, CodeUri: src/}\n"
        "Resources:\n  Small:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: index.handler}\n",
        "template.yaml",
        "Globals.Function.Runtime",
        "nodejs20.x",
        id="sam globals runtime and missing code folder",
    ),
]


@pytest.mark.parametrize(("manifest", "name", "key", "runtime"), OTHER_LANGUAGE)
def test_other_language_reports_runtime_only(
    write_service: WriteService, manifest: str, name: str, key: str, runtime: str
) -> None:
    error = _load_error(write_service, manifest, name)

    assert error.key == key
    assert f'got "{runtime}"' in error.detail
    assert "also" not in error.detail
    assert "index.py" not in str(error)


@pytest.mark.parametrize(
    ("manifest", "name", "key"),
    [
        pytest.param(
            "service: keys\nprovider: {name: aws, runtime: python2.7}\nfunctions:\n  small: {handler: app.greet}\n",
            "serverless.yml",
            "provider.runtime",
            id="serverless",
        ),
        pytest.param(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Small:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {Handler: app.greet, Runtime: python2.7}\n",
            "template.yaml",
            "Resources.Small.Properties.Runtime",
            id="sam",
        ),
    ],
)
def test_python2_names_valid_runtimes(write_service: WriteService, manifest: str, name: str, key: str) -> None:
    error = _load_error(write_service, manifest, name)

    assert error.key == key
    assert error.detail == (
        'expected a Python 3 runtime "python3.N", such as "python3.12" (Squall runs Python 3 functions only), '
        'got "python2.7"'
    )


def test_python_runtime_still_checks_handler_file(write_service: WriteService) -> None:
    manifest = "service: keys\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n  small: {handler: index.handler}\n"

    error = _load_error(write_service, manifest)

    assert error.key == "functions.small.handler"
    assert "index.py" in error.detail


def test_other_language_runtime_and_missing_handler(write_service: WriteService) -> None:
    manifest = "service: keys\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n  small: {runtime: nodejs18.x}\n"

    error = _load_error(write_service, manifest)

    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("serverless.yml: functions.small.runtime: expected a Python 3 runtime")
    assert lines[1].startswith("  also functions.small.handler: missing, expected a handler")


@pytest.mark.parametrize(
    ("line", "warning"),
    [
        pytest.param(
            "provder: {name: aws}",
            'provder: unknown key, did you mean "provider"? ignored',
            id="misspelled",
        ),
        pytest.param(
            "console: true",
            UNSUPPORTED_PREFIX + "console",
            id="framework key",
        ),
    ],
)
def test_top_level_key_warnings(write_service: WriteService, line: str, warning: str) -> None:
    write_service(_serverless_yml() + line + "\n", name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.warnings == (warning,)


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [("error", 'functions.greet.memorysize: unknown key, did you mean "memorySize"? Rejected because configValidationMode is error'),
     ("strict", 'configValidationMode: expected "error", "warn" or "off", got "strict"')],
)
def test_validation_mode_mistake_message(tmp_path: Path, mode: str, fragment: str) -> None:
    (tmp_path / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (tmp_path / "serverless.yml").write_text(
        f"service: s\nconfigValidationMode: {mode}\nprovider: {{name: aws, runtime: python3.12}}\n"
        "functions:\n  greet:\n    handler: app.greet\n    memorysize: 512\n"
    )

    with pytest.raises(ManifestError) as raised:
        load_service(tmp_path)

    assert fragment in str(raised.value)


def test_validation_mode_warn_deploys(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (tmp_path / "serverless.yml").write_text(
        "service: s\nconfigValidationMode: warn\nprovider: {name: aws, runtime: python3.12}\n"
        "functions:\n  greet:\n    handler: app.greet\n    memorysize: 512\n"
    )

    service = load_service(tmp_path)

    assert service.warnings == ('functions.greet.memorysize: unknown key, did you mean "memorySize"? ignored',)
