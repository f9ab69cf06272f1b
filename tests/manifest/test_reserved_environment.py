"""Variables the platform sets itself cannot be set in any manifest format, as on Lambda."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service

WriteService = Callable[..., Path]

SQUALL_YML = """\
service: env
functions:
  greet:
    handler: app.greet
    environment: {NAME: VALUE}
"""

SERVERLESS_YML = """\
service: env
provider:
  name: aws
  runtime: python3.12
  environment:
    NAME: VALUE
functions:
  greet: {handler: app.greet}
"""

TEMPLATE_YAML = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Greet:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Environment:
        Variables:
          NAME: VALUE
"""

FORMATS = [
    pytest.param("squall.yml", SQUALL_YML, "functions.greet.environment", "greet", id="squall.yml"),
    pytest.param("serverless.yml", SERVERLESS_YML, "provider.environment", "greet", id="serverless.yml"),
    pytest.param(
        "template.yaml", TEMPLATE_YAML, "Resources.Greet.Properties.Environment.Variables", "Greet", id="SAM"
    ),
]


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
@pytest.mark.parametrize("name", ["AWS_REGION", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT"])
def test_reserved_name_is_refused(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str
) -> None:
    write_service(text.replace("NAME", name), name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == manifest
    assert raised.value.key == f"{key}.{name}"
    assert f"{name} is set by the platform" in str(raised.value)
    assert "TZ, LANG, PATH" in str(raised.value)


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
# Names of other characters fail an earlier check of each format.
@pytest.mark.parametrize("name", ["A", "_PRIVATE", "_9"])
def test_invalid_variable_name_rejected(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str
) -> None:
    write_service(text.replace("NAME: VALUE", f"{name}: VALUE"), name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == f"{key}.{name}"
    assert "expected a variable name of a letter and at least one more letter, digit or _" in str(raised.value)


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
@pytest.mark.parametrize("name", ["db_host", "X1", "Ab_9"])
def test_valid_variable_name_kept(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str
) -> None:
    write_service(text.replace("NAME: VALUE", f"{name}: VALUE"), name=manifest)

    assert load_service(Path(".")).functions[function].environment[name] == "VALUE"


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
def test_every_reserved_name_is_listed(write_service: WriteService, manifest: str, text: str, key: str, function: str) -> None:
    # Each format's variable line "NAME: VALUE" becomes three variables, two of them reserved.
    line = next(line for line in text.splitlines(keepends=True) if "NAME: VALUE" in line)
    if "{NAME: VALUE}" in line:
        text = text.replace("{NAME: VALUE}", "{AWS_REGION: a, OWN: b, _HANDLER: c}")
    else:
        indent = line[: line.index("NAME")]
        text = text.replace(line, f"{indent}AWS_REGION: a\n{indent}OWN: b\n{indent}_HANDLER: c\n")
    write_service(text, name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == f"{key}.AWS_REGION"
    assert "AWS_REGION, _HANDLER are set by the platform" in str(raised.value)


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
@pytest.mark.parametrize("name", ["TZ", "LANG", "PATH", "PYTHONPATH", "AWS_LAMBDA_EXTRA"])
def test_settable_name_is_kept(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str
) -> None:
    write_service(text.replace("NAME", name), name=manifest)

    spec = load_service(Path("."))

    assert spec.functions[function].environment[name] == "VALUE"


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [("AWS_LAMBDA_LOG_LEVEL", "LOUD", "TRACE, DEBUG, INFO, WARN, ERROR, FATAL"), ("AWS_LAMBDA_LOG_FORMAT", "XML", "Text, JSON")],
)
def test_invalid_log_setting_is_refused(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str, value: str, valid: str
) -> None:
    write_service(text.replace("NAME: VALUE", f"{name}: {value}"), name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == f"{key}.{name}"
    assert f"expected one of {valid}, got \"{value}\"" in str(raised.value)


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
def test_valid_log_settings_are_kept(write_service: WriteService, manifest: str, text: str, key: str, function: str) -> None:
    write_service(text.replace("NAME: VALUE", "AWS_LAMBDA_LOG_LEVEL: debug"), name=manifest)

    spec = load_service(Path("."))

    assert spec.functions[function].environment["AWS_LAMBDA_LOG_LEVEL"] == "debug"


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
@pytest.mark.parametrize("name", ["SQUALL_ENDPOINT", "SQUALL_TOKEN"])
def test_squall_name_is_refused(
    write_service: WriteService, manifest: str, text: str, key: str, function: str, name: str
) -> None:
    write_service(text.replace("NAME", name), name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == f"{key}.{name}"
    assert f"{name} is set by Squall in every instance" in str(raised.value)


# The function key path of each format's whole environment, where the size error points.
SIZE_KEYS = {
    "squall.yml": "functions.greet.environment",
    "serverless.yml": "functions.greet.environment",
    "template.yaml": "Resources.Greet.Properties.Environment.Variables",
}


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
def test_environment_at_4kb_is_kept(write_service: WriteService, manifest: str, text: str, key: str, function: str) -> None:
    # {"NAME":"<4,085 x>"} is 4,096 bytes of JSON, exactly the limit, as AWS's recorded call near it shows.
    write_service(text.replace("VALUE", "x" * 4085), name=manifest)

    spec = load_service(Path("."))

    assert len(spec.functions[function].environment["NAME"]) == 4085


@pytest.mark.parametrize(("manifest", "text", "key", "function"), FORMATS)
def test_environment_over_4kb_is_refused(
    write_service: WriteService, manifest: str, text: str, key: str, function: str
) -> None:
    write_service(text.replace("VALUE", "x" * 4086), name=manifest)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == SIZE_KEYS[manifest]
    assert "4,097 bytes as a JSON object, over Lambda's limit of 4,096 bytes" in str(raised.value)
    assert "the largest is NAME (4,086 bytes)" in str(raised.value)
