"""Binary media types of REST routes, read from squall.yml, serverless.yml and SAM templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import ApiType, HttpEvent, ServiceSpec
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, RESOURCES, template


def load(write_service: WriteService, text: str, name: str) -> ServiceSpec:
    write_service(text, name=name)
    return load_service(Path("."))


def load_error(write_service: WriteService, text: str, name: str) -> ManifestError:
    write_service(text, name=name)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


# --- squall.yml ---------------------------------------------------------------------


def squall_yml(http: str) -> str:
    return f"service: media\nfunctions:\n  image:\n    handler: app.greet\n    events:\n      - http: {http}\n"


def test_squall_yml_rest_route_takes_binary_media_types(write_service: WriteService) -> None:
    http = '{method: GET, path: /image, payload: "1.0", binary_media_types: [image/png, "*/*"]}'

    spec = load(write_service, squall_yml(http), "squall.yml")

    assert spec.functions["image"].http == (
        HttpEvent("GET", "/image", "1.0", binary_media_types=("image/png", "*/*")),
    )


@pytest.mark.parametrize(
    "http",
    [
        "{method: GET, path: /image, binary_media_types: [image/png]}",
        '{method: GET, path: /image, payload: "2.0", binary_media_types: []}',
    ],
    ids=["default-payload", "payload-2.0"],
)
def test_squall_yml_binary_media_types_need_rest_route(write_service: WriteService, http: str) -> None:
    error = load_error(write_service, squall_yml(http), "squall.yml")

    assert error.key == "functions.image.events[0].http.binary_media_types"
    assert 'valid only on a REST API route (payload "1.0")' in error.detail
    assert 'got it on a route with payload "2.0"' in error.detail


@pytest.mark.parametrize(
    ("value", "key", "got"),
    [
        ("[png]", "functions.image.events[0].http.binary_media_types[0]", 'got "png"'),
        ('["image/png; q=1"]', "functions.image.events[0].http.binary_media_types[0]", 'got "image/png; q=1"'),
        ("image/png", "functions.image.events[0].http.binary_media_types", 'got "image/png"'),
    ],
)
def test_squall_yml_invalid_media_type(write_service: WriteService, value: str, key: str, got: str) -> None:
    http = f'{{method: GET, path: /image, payload: "1.0", binary_media_types: {value}}}'

    error = load_error(write_service, squall_yml(http), "squall.yml")

    assert error.key == key
    assert got in error.detail
    assert "media type" in error.detail


# --- serverless.yml -----------------------------------------------------------------


def serverless_yml(api_gateway: str) -> str:
    return textwrap.dedent(
        """\
        service: media
        provider:
          name: aws
          runtime: python3.12
        {api_gateway}
        functions:
          image:
            handler: app.greet
            events:
              - http: GET /image
              - httpApi: GET /http-api/image
        """
    ).format(api_gateway=textwrap.indent(api_gateway, "  "))


def test_serverless_provider_binary_media_types_reach_rest_routes(write_service: WriteService) -> None:
    api_gateway = "apiGateway:\n  binaryMediaTypes: [image/png, 'image/*']\n  minimumCompressionSize: 1024"

    spec = load(write_service, serverless_yml(api_gateway), "serverless.yml")

    rest, http_api = spec.functions["image"].http
    assert (rest.api, rest.binary_media_types) == (ApiType.REST, ("image/png", "image/*"))
    assert (http_api.api, http_api.binary_media_types) == (ApiType.HTTP, ())
    assert not any("apiGateway.binaryMediaTypes" in warning for warning in spec.warnings)
    assert "provider.apiGateway.minimumCompressionSize" in spec.warnings[-1]


def test_serverless_default_has_no_binary_media_types(write_service: WriteService) -> None:
    spec = load(write_service, serverless_yml(""), "serverless.yml")

    assert [event.binary_media_types for event in spec.functions["image"].http] == [(), ()]


@pytest.mark.parametrize(
    ("api_gateway", "key", "got"),
    [
        ("apiGateway:\n  binaryMediaTypes: [image/png, png]", "provider.apiGateway.binaryMediaTypes[1]", 'got "png"'),
        ("apiGateway:\n  binaryMediaTypes: image/png", "provider.apiGateway.binaryMediaTypes", 'got "image/png"'),
        ("apiGateway: true", "provider.apiGateway", "got true"),
    ],
)
def test_serverless_invalid_binary_media_types(write_service: WriteService, api_gateway: str, key: str, got: str) -> None:
    error = load_error(write_service, serverless_yml(api_gateway), "serverless.yml")

    assert error.key == key
    assert got in error.detail


# --- SAM ----------------------------------------------------------------------------------


def sam_template(events: str, api_properties: str = "", globals_api: str = "") -> str:
    resources = RESOURCES + f"  PhotosApi:\n    Type: AWS::Serverless::Api\n    Properties: {{StageName: v1{api_properties}}}\n"
    text = template(BASE + "Events:\n" + textwrap.indent(events, "  "), resources=resources)
    if globals_api:
        text = text.replace("Resources:\n", f"Globals:\n  Api:\n{textwrap.indent(globals_api, '    ')}Resources:\n", 1)
    return text


IMPLICIT = "Implicit: {Type: Api, Properties: {Path: /image, Method: get}}\n"
EXPLICIT = "Explicit: {Type: Api, Properties: {Path: /photos, Method: get, RestApiId: !Ref PhotosApi}}\n"
HTTP_API = "Modern: {Type: HttpApi, Properties: {Path: /modern, Method: get}}\n"


def test_sam_api_binary_media_types_with_escaped_slash(write_service: WriteService) -> None:
    text = sam_template(IMPLICIT + EXPLICIT + HTTP_API, api_properties=", BinaryMediaTypes: [image~1png, '*~1*']")

    spec = load(write_service, text, "template.yaml")

    assert [event.binary_media_types for event in spec.functions["Fn"].http] == [(), ("image/png", "*/*"), ()]
    assert not any("BinaryMediaTypes" in warning for warning in spec.warnings)


def test_sam_globals_api_binary_media_types(write_service: WriteService) -> None:
    text = sam_template(
        IMPLICIT + EXPLICIT + HTTP_API,
        api_properties=", BinaryMediaTypes: [application~1pdf]",
        globals_api="BinaryMediaTypes: [image~1png]\nCors: \"'*'\"\n",
    )

    spec = load(write_service, text, "template.yaml")

    # SAM's own API takes Globals.Api's list, and an explicit API gets it in front of its own.
    assert [event.binary_media_types for event in spec.functions["Fn"].http] == [
        ("image/png",),
        ("image/png", "application/pdf"),
        (),
    ]
    assert not any("Globals.Api.Cors" in warning for warning in spec.warnings)
    assert not any("BinaryMediaTypes" in warning for warning in spec.warnings)


def test_sam_binary_media_types_from_parameter(write_service: WriteService) -> None:
    text = "Parameters:\n  Media: {Type: String, Default: image~1jpeg}\n" + sam_template(
        EXPLICIT, api_properties=", BinaryMediaTypes: [!Ref Media]"
    )

    spec = load(write_service, text, "template.yaml")

    assert spec.functions["Fn"].http[0].binary_media_types == ("image/jpeg",)


@pytest.mark.parametrize(
    ("api_properties", "globals_api", "key", "got"),
    [
        (", BinaryMediaTypes: [imagepng]", "", "Resources.PhotosApi.Properties.BinaryMediaTypes[0]", 'got "imagepng"'),
        (", BinaryMediaTypes: image~1png", "", "Resources.PhotosApi.Properties.BinaryMediaTypes", 'got "image~1png"'),
        ("", "BinaryMediaTypes: [5]\n", "Globals.Api.BinaryMediaTypes[0]", "got 5"),
    ],
)
def test_sam_invalid_binary_media_types(
    write_service: WriteService, api_properties: str, globals_api: str, key: str, got: str
) -> None:
    error = load_error(write_service, sam_template(EXPLICIT, api_properties, globals_api), "template.yaml")

    assert error.key == key
    assert got in error.detail
