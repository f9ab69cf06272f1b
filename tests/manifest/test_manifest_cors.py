"""CORS settings read from squall.yml, serverless.yml and SAM templates, and their mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import DEFAULT_CORS_HEADERS, CorsConfig, ServiceSpec
from tests.manifest.conftest import WriteService

SQUALL_YML = """
service: shop
{http_api}
functions:
  api:
    handler: app.handler
    events:
      - http: {{method: GET, path: /items}}
      - http: {{method: GET, path: /rest, payload: "1.0"{rest_cors}}}
"""

SERVERLESS_YML = """
service: shop
provider:
  name: aws
  runtime: python3.12
  httpApi:
    cors: {cors}
functions:
  api:
    handler: app.handler
    events:
      - httpApi: GET /items
"""


def _load(write_service: WriteService, text: str, name: str) -> ServiceSpec:
    write_service(textwrap.dedent(text), name=name)
    return load_service(Path("."))


def _error(write_service: WriteService, text: str, name: str) -> str:
    with pytest.raises(ManifestError) as raised:
        _load(write_service, text, name)
    return str(raised.value)


def test_squall_yml_http_api_cors_true(write_service: WriteService) -> None:
    spec = _load(write_service, SQUALL_YML.format(http_api="http_api: {cors: true}", rest_cors=""), "squall.yml")

    http_api, rest = spec.functions["api"].http
    assert http_api.cors == CorsConfig(("*",), DEFAULT_CORS_HEADERS, None)
    assert rest.cors is None


def test_squall_yml_rest_cors_mapping(write_service: WriteService) -> None:
    rest_cors = ", cors: {allow_origins: [https://a.example], allow_credentials: true, max_age_s: 30}"
    spec = _load(write_service, SQUALL_YML.format(http_api="", rest_cors=rest_cors), "squall.yml")

    http_api, rest = spec.functions["api"].http
    assert http_api.cors is None
    assert rest.cors == CorsConfig(("https://a.example",), DEFAULT_CORS_HEADERS, None, True, (), 30)


@pytest.mark.parametrize(
    ("http_api", "message"),
    [
        (
            "http_api: {cors: {allow_credentials: true}}",
            'http_api.cors.allow_origins: expected origins without "*" when allow_credentials is true',
        ),
        ("http_api: {cors: {max_age_s: 90000}}", "http_api.cors.max_age_s: expected whole seconds from -1"),
        ("http_api: {cors: {allow_methods: [FETCH]}}", "http_api.cors.allow_methods[0]: expected an HTTP method"),
        ("http_api: {cors: {origins: [x]}}", 'http_api.cors.origins: unknown key (did you mean "allow_origins"?)'),
    ],
    ids=["credentials-with-any-origin", "max-age", "method", "misspelt-key"],
)
def test_squall_yml_cors_mistakes(write_service: WriteService, http_api: str, message: str) -> None:
    error = _error(write_service, SQUALL_YML.format(http_api=http_api, rest_cors=""), "squall.yml")

    assert message in error


def test_squall_yml_cors_on_http_api_route(write_service: WriteService) -> None:
    text = SQUALL_YML.format(http_api="", rest_cors="").replace("path: /items}", "path: /items, cors: true}")

    error = _error(write_service, text, "squall.yml")

    assert "functions.api.events[0].http.cors: only a REST route" in error


def test_serverless_http_api_cors_object(write_service: WriteService) -> None:
    cors = "{allowedOrigins: [https://a.example], allowedHeaders: X-Token, exposedResponseHeaders: [X-Total], maxAge: '60'}"

    spec = _load(write_service, SERVERLESS_YML.format(cors=cors), "serverless.yml")

    (event,) = spec.functions["api"].http
    assert event.cors == CorsConfig(("https://a.example",), ("X-Token",), None, False, ("X-Total",), 60)
    assert not any("cors" in warning for warning in spec.warnings)


def test_serverless_http_api_cors_mistakes(write_service: WriteService) -> None:
    error = _error(write_service, SERVERLESS_YML.format(cors="{allowCredentials: true}"), "serverless.yml")

    assert "provider.httpApi.cors.allowedOrigins: expected origins without" in error


def test_serverless_http_api_cors_typo_warned(write_service: WriteService) -> None:
    spec = _load(write_service, SERVERLESS_YML.format(cors="{allowedOrigin: [https://a.example]}"), "serverless.yml")

    assert 'provider.httpApi.cors.allowedOrigin: unknown key, did you mean "allowedOrigins"? ignored' in spec.warnings


def test_serverless_rest_cors_origin_list(write_service: WriteService) -> None:
    text = SERVERLESS_YML.format(cors="false").replace(
        "- httpApi: GET /items",
        "- http: {method: post, path: items, cors: {origin: 'https://a.example, https://b.example', methods: [GET]}}",
    )

    spec = _load(write_service, text, "serverless.yml")

    (event,) = spec.functions["api"].http
    assert event.cors == CorsConfig(
        ("https://a.example", "https://b.example"), DEFAULT_CORS_HEADERS, ("GET", "OPTIONS", "POST")
    )


SAM_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::{api_type}
    Properties:
      StageName: v1
      {setting}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get: {{Type: {event_type}, Properties: {{Path: /items, Method: get, {reference}: !Ref Api}}}}
"""


def _sam(api: str, setting: str) -> str:
    if api == "rest":
        return SAM_TEMPLATE.format(api_type="Api", setting=setting, event_type="Api", reference="RestApiId")
    return SAM_TEMPLATE.format(api_type="HttpApi", setting=setting, event_type="HttpApi", reference="ApiId")


@pytest.mark.parametrize(
    ("api", "setting", "expected"),
    [
        ("http", "CorsConfiguration: https://a.example", CorsConfig(("https://a.example",), (), ())),
        (
            "http",
            "CorsConfiguration: {AllowOrigins: [https://a.example], AllowHeaders: [x-token], AllowCredentials: true}",
            CorsConfig(("https://a.example",), ("x-token",), (), True),
        ),
        ("rest", "Cors: \"'*'\"", CorsConfig(("*",), (), None)),
        (
            "rest",
            "Cors: {AllowOrigin: \"'https://a.example'\", AllowMethods: \"'GET, PUT'\", MaxAge: \"'5'\"}",
            CorsConfig(("https://a.example",), (), ("GET, PUT",), False, (), 5),
        ),
    ],
    ids=["http-origin", "http-mapping", "rest-origin", "rest-mapping"],
)
def test_sam_cors_settings(write_service: WriteService, api: str, setting: str, expected: CorsConfig) -> None:
    spec = _load(write_service, _sam(api, setting), "template.yaml")

    (event,) = spec.functions["Fn"].http
    assert event.cors == expected


@pytest.mark.parametrize(
    ("api", "setting", "message"),
    [
        ("rest", "Cors: {AllowHeaders: \"'x'\"}", "Resources.Api.Properties.Cors.AllowOrigin: missing"),
        (
            "rest",
            "Cors: {AllowOrigin: \"'*'\", AllowCredentials: true}",
            "Resources.Api.Properties.Cors.AllowOrigin: expected an origin other than '*'",
        ),
        ("http", "CorsConfiguration: {AllowOrigin: [x]}", 'unknown property "AllowOrigin" of CorsConfiguration'),
        ("http", "CorsConfiguration: {MaxAge: -2}", "Resources.Api.Properties.CorsConfiguration.MaxAge: expected whole"),
    ],
    ids=["rest-no-origin", "rest-credentials-any-origin", "http-misspelt", "http-max-age"],
)
def test_sam_cors_mistakes(write_service: WriteService, api: str, setting: str, message: str) -> None:
    error = _error(write_service, _sam(api, setting), "template.yaml")

    assert message in error


SAM_GLOBALS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origin: {{Type: String, Default: "https://param.example"}}
Globals:
  {globals_section}:
    {globals_setting}
Resources:
  Api:
    Type: AWS::Serverless::{api_type}
    Properties:
      StageName: v1
      {setting}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get: {{Type: {event_type}, Properties: {{Path: /items, Method: get, {reference}: !Ref Api}}}}
"""


def _sam_with_globals(api: str, globals_setting: str, setting: str) -> str:
    if api == "rest":
        return SAM_GLOBALS_TEMPLATE.format(
            globals_section="Api", globals_setting=globals_setting, api_type="Api", setting=setting,
            event_type="Api", reference="RestApiId",
        )
    return SAM_GLOBALS_TEMPLATE.format(
        globals_section="HttpApi", globals_setting=globals_setting, api_type="HttpApi", setting=setting,
        event_type="HttpApi", reference="ApiId",
    )


# SAM's Globals plugin merges two mappings key by key, joins two lists with
# the Globals entries first, and otherwise keeps the resource's own value,
# also where the kinds differ or one side is an intrinsic function.
@pytest.mark.parametrize(
    ("api", "globals_setting", "setting", "expected"),
    [
        (
            "http",
            "CorsConfiguration: {AllowOrigins: [https://a.example], MaxAge: 60, ExposeHeaders: [x-total]}",
            "CorsConfiguration: {AllowOrigins: [https://b.example], MaxAge: 5, AllowCredentials: true}",
            CorsConfig(("https://a.example", "https://b.example"), (), (), True, ("x-total",), 5),
        ),
        (
            "http",
            "CorsConfiguration: {AllowOrigins: [https://a.example], AllowHeaders: [x-token]}",
            "CorsConfiguration: https://b.example",
            CorsConfig(("https://b.example",), (), ()),
        ),
        (
            "http",
            "CorsConfiguration: true",
            "CorsConfiguration: {AllowOrigins: [https://b.example]}",
            CorsConfig(("https://b.example",), (), ()),
        ),
        (
            "http",
            "CorsConfiguration: {AllowOrigins: [https://a.example], AllowMethods: [GET]}",
            "CorsConfiguration: {AllowOrigins: [!Ref Origin]}",
            CorsConfig(("https://a.example", "https://param.example"), (), ("GET",)),
        ),
        (
            "http",
            "CorsConfiguration: {AllowOrigins: !Split [',', 'https://a.example,https://c.example'], MaxAge: 60}",
            "CorsConfiguration: {AllowOrigins: [https://b.example]}",
            CorsConfig(("https://b.example",), (), (), False, (), 60),
        ),
        (
            "rest",
            "Cors: {AllowOrigin: \"'https://a.example'\", AllowHeaders: \"'x-token'\", MaxAge: \"'600'\"}",
            "Cors: {AllowMethods: \"'GET'\", MaxAge: \"'5'\"}",
            CorsConfig(("https://a.example",), ("x-token",), ("GET",), False, (), 5),
        ),
        (
            "rest",
            "Cors: {AllowOrigin: \"'https://a.example'\", AllowHeaders: \"'x-token'\"}",
            "Cors: \"'https://b.example'\"",
            CorsConfig(("https://b.example",), (), None),
        ),
        (
            "rest",
            "Cors: \"'https://a.example'\"",
            "Cors: {AllowOrigin: \"'https://b.example'\", AllowCredentials: true}",
            CorsConfig(("https://b.example",), (), None, True),
        ),
    ],
    ids=[
        "http-maps-merged", "http-origin-replaces-map", "http-map-replaces-true", "http-lists-joined",
        "http-intrinsic-not-joined", "rest-maps-merged", "rest-origin-replaces-map", "rest-map-replaces-origin",
    ],
)
def test_sam_cors_merged_with_globals(
    write_service: WriteService, api: str, globals_setting: str, setting: str, expected: CorsConfig
) -> None:
    spec = _load(write_service, _sam_with_globals(api, globals_setting, setting), "template.yaml")

    (event,) = spec.functions["Fn"].http
    assert event.cors == expected


def test_sam_cors_globals_only(write_service: WriteService) -> None:
    text = _sam_with_globals("rest", "Cors: \"'https://a.example'\"", "Description: no Cors of its own")

    spec = _load(write_service, text, "template.yaml")

    (event,) = spec.functions["Fn"].http
    assert event.cors == CorsConfig(("https://a.example",), (), None)


def test_sam_cors_merge_mistake_reported_on_api(write_service: WriteService) -> None:
    # The merged setting allows credentials with the origin "*" from Globals, which SAM rejects.
    text = _sam_with_globals("rest", "Cors: {AllowOrigin: \"'*'\"}", "Cors: {AllowCredentials: true}")

    error = _error(write_service, text, "template.yaml")

    assert "Resources.Api.Properties.Cors.AllowOrigin: expected an origin other than '*'" in error


def test_sam_cors_invalid_globals_reported_once(write_service: WriteService) -> None:
    text = _sam_with_globals(
        "http", "CorsConfiguration: {MaxAge: -2}", "CorsConfiguration: {AllowOrigins: [https://b.example]}"
    )

    error = _error(write_service, text, "template.yaml")

    assert "Globals.HttpApi.CorsConfiguration.MaxAge: expected whole" in error
    assert "Resources.Api.Properties.CorsConfiguration.MaxAge" not in error
