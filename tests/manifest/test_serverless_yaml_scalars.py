"""serverless.yml is read with YAML 1.2's core schema, as the Framework's js-yaml reads it, while other manifests keep YAML 1.1."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from squall.manifest import load_service
from squall.manifest.serverless_common import ServerlessLoader, javascript_number_text
from squall.manifest.validate import StrictLoader
from tests.manifest.conftest import WriteService


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("no", "no", id="no"),
        pytest.param("No", "No", id="No"),
        pytest.param("yes", "yes", id="yes"),
        pytest.param("ON", "ON", id="ON"),
        pytest.param("off", "off", id="off"),
        pytest.param("y", "y", id="y"),
        pytest.param("010", 10, id="leading zero is decimal"),
        pytest.param("-010", -10, id="negative leading zero"),
        pytest.param("12:30", "12:30", id="sexagesimal is text"),
        pytest.param("1_000", "1_000", id="underscore is text"),
        pytest.param("0b101", "0b101", id="binary is text"),
        pytest.param("0o17", 15, id="octal"),
        pytest.param("0x1F", 31, id="hexadecimal"),
        pytest.param("+12", 12, id="plus sign"),
        pytest.param("1e3", 1000.0, id="exponent without point"),
        pytest.param(".5", 0.5, id="leading point"),
        pytest.param("-.Inf", -math.inf, id="negative infinity"),
        pytest.param("true", True, id="true"),
        pytest.param("FALSE", False, id="FALSE"),
        pytest.param("Null", None, id="Null"),
        pytest.param("~", None, id="tilde"),
        pytest.param("", None, id="empty"),
        pytest.param("2024-01-01", "2024-01-01", id="date is text"),
    ],
)
def test_plain_scalar_resolves_as_core_schema(text: str, expected: object) -> None:
    value = yaml.load(f"value: {text}\n", Loader=ServerlessLoader)["value"]

    assert value == expected
    assert type(value) is type(expected)


def test_nan_resolves_to_float() -> None:
    value = yaml.load("value: .NaN\n", Loader=ServerlessLoader)["value"]

    assert math.isnan(value)


def test_merge_keys_still_merge() -> None:
    document = yaml.load("base: &base {memory: 512}\nfunction: {<<: *base, timeout: 6}\n", Loader=ServerlessLoader)

    assert document["function"] == {"memory": 512, "timeout": 6}


def test_other_loaders_keep_yaml_1_1() -> None:
    document = yaml.load("a: no\nb: 010\nc: 12:30\n", Loader=StrictLoader)

    assert document == {"a": False, "b": 8, "c": 750}


def test_environment_keeps_framework_values(write_service: WriteService) -> None:
    write_service(
        """
        service: shop
        provider:
          name: aws
          runtime: python3.12
          environment:
            COUNTRY: no
            FEATURE: On
            ZIP: 010
            OPENS: 12:30
            LIMIT: 1e3
            RATIO: 2.0
            SHARE: 0.000001
            VERBOSE: true
            LABEL: "${self:custom.version}-build"
        custom:
          version: 1.50
        functions:
          hello: {handler: app.greet}
        """,
        name="serverless.yml",
    )

    environment = load_service(Path(".")).functions["hello"].environment

    assert environment == {
        "COUNTRY": "no",
        "FEATURE": "On",
        "ZIP": "10",
        "OPENS": "12:30",
        "LIMIT": "1000",
        "RATIO": "2",
        "SHARE": "0.000001",
        "VERBOSE": "true",
        "LABEL": "1.5-build",
    }


def test_on_key_is_text(write_service: WriteService) -> None:
    write_service(
        "service: shop\nfunctions:\n  hello:\n    handler: app.greet\n    environment: {on: yes}\n",
        name="serverless.yml",
    )

    environment = load_service(Path(".")).functions["hello"].environment

    assert environment == {"on": "yes"}


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1000.0, "1000"),
        (-3.25, "-3.25"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.2345678901234568e20, "123456789012345680000"),
        (math.inf, "Infinity"),
        (7, "7"),
    ],
)
def test_number_text_matches_javascript(number: float, text: str) -> None:
    assert javascript_number_text(number) == text
