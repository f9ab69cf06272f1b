"""Serverless Framework variables: sources, fallbacks, nesting, strings, files and errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.serverless_variables import resolve_variables
from squall.manifest.validate import ManifestSource

ENVIRONMENT = {"REGION_NAME": "eu-west-1", "EMPTY": "", "dev_arn": "arn:aws:sqs:us-east-1:1:dev-jobs"}


def _resolve(
    tmp_path: Path, text: str, options: dict[str, str] | None = None, files: dict[str, str] | None = None
) -> Any:
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    source = ManifestSource("serverless.yml", tmp_path / "serverless.yml", tmp_path)
    return resolve_variables(yaml.safe_load(text), source, options, ENVIRONMENT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("${self:custom.memory}", 512, id="self keeps the type"),
        pytest.param("${self:custom.tags}", {"team": "ops"}, id="self mapping"),
        pytest.param("${self:custom.list.1}", "b", id="self list index"),
        pytest.param("${self:service}-${sls:stage}", "shop-dev", id="inside a string"),
        pytest.param("${env:REGION_NAME}", "eu-west-1", id="env"),
        pytest.param("${env:EMPTY}", "", id="env empty is set"),
        pytest.param("${env:MISSING, 'fallback'}", "fallback", id="env fallback quoted"),
        pytest.param('${env:MISSING, "a, b"}', "a, b", id="fallback with comma"),
        pytest.param("${self:custom.nothing, 5}", 5, id="self fallback number"),
        pytest.param("${env:MISSING, self:custom.memory}", 512, id="fallback reference"),
        pytest.param("${env:MISSING, ${env:ALSO_MISSING}, true}", True, id="fallback chain"),
        pytest.param("${opt:stage, self:provider.stage}", "dev", id="provider stage default"),
        pytest.param("${opt:stage}", "dev", id="opt stage default"),
        pytest.param("${opt:region}", "us-east-1", id="opt region default"),
        pytest.param("${aws:accountId}", "000000000000", id="aws account"),
        pytest.param("${env:${opt:stage}_arn}", "arn:aws:sqs:us-east-1:1:dev-jobs", id="nested"),
        pytest.param("${self:custom.${sls:stage}.bucket}", "dev-bucket", id="nested in address"),
        pytest.param("${self:custom.indirect}", 512, id="self to a variable"),
        pytest.param("${ssm:/shop/key, 'local-key'}", "local-key", id="remote source fallback"),
        pytest.param("${cf:shop-db.TableName, 'local-table'}", "local-table", id="stack output fallback"),
        pytest.param("${aws:region}", "us-east-1", id="aws region"),
        pytest.param("${strToBool(${env:MISSING, 'false'})}", False, id="strToBool"),
        pytest.param("${param:tableName}", "shop-items", id="param default"),
        pytest.param("${AWS::Region}-${MyQueue.Arn}", "${AWS::Region}-${MyQueue.Arn}", id="CloudFormation kept"),
    ],
)
def test_variable_resolves(tmp_path: Path, value: str, expected: Any) -> None:
    text = f"""
service: shop
custom:
  memory: 512
  tags: {{team: ops}}
  list: [a, b]
  dev: {{bucket: dev-bucket}}
  indirect: ${{self:custom.memory}}
params:
  default: {{tableName: shop-items}}
value: {value!r}
"""
    assert _resolve(tmp_path, text)["value"] == expected


def test_stage_and_region_options(tmp_path: Path) -> None:
    text = """
service: shop
provider: {stage: qa}
custom: {stage: "${sls:stage}", region: "${opt:region}", table: "${self:service}-${opt:stage, self:provider.stage}"}
params:
  prod: {size: large}
  default: {size: small}
stages:
  prod: {params: {color: red}}
size: ${param:size}
color: ${param:color, 'none'}
"""
    prod = _resolve(tmp_path, text, {"stage": "prod", "region": "eu-central-1"})
    qa = _resolve(tmp_path, text)

    assert prod["custom"] == {"stage": "prod", "region": "eu-central-1", "table": "shop-prod"}
    assert (prod["size"], prod["color"]) == ("large", "red")
    assert qa["custom"] == {"stage": "qa", "region": "us-east-1", "table": "shop-qa"}
    assert (qa["size"], qa["color"]) == ("small", "none")


def test_file_variables(tmp_path: Path) -> None:
    files = {
        "config/dev.yml": "memory: 256\nschedule: rate(1 hour)\nname: ${self:service}-worker\n",
        "settings.json": '{"retries": 2, "nested": {"flag": true}}',
    }
    text = """
service: shop
custom: ${file(./config/${sls:stage}.yml)}
memory: ${file(./config/dev.yml):memory}
name: ${self:custom.name}
flag: ${file(settings.json):nested.flag}
missing: ${file(./absent.yml):x, 'default'}
"""
    document = _resolve(tmp_path, text, files=files)

    assert document["custom"] == {"memory": 256, "schedule": "rate(1 hour)", "name": "shop-worker"}
    assert document["memory"] == 256
    assert document["name"] == "shop-worker"
    assert document["flag"] is True
    assert document["missing"] == "default"


BAD_VARIABLES = [
    (
        "self missing",
        "functions:\n  hello:\n    memorySize: ${self:custom.memory}\n",
        "functions.hello.memorySize",
        ["cannot resolve ${self:custom.memory}", "custom.memory is not set in serverless.yml",
         "${self:custom.memory, 'value'}"],
    ),
    (
        "env missing",
        "provider:\n  environment:\n    TOKEN: ${env:API_TOKEN}\n",
        "provider.environment.TOKEN",
        ["cannot resolve ${env:API_TOKEN}", "environment variable API_TOKEN is not set"],
    ),
    (
        "option missing",
        "custom:\n  size: ${opt:size}\n",
        "custom.size",
        ["option size was not given"],
    ),
    (
        "stack output",
        "custom:\n  table: ${cf:shop-db.TableName}\n",
        "custom.table",
        ['the "cf" source', "Squall does not do"],
    ),
    (
        "remote source",
        "custom:\n  key: ${ssm:/shop/key}\n",
        "custom.key",
        ['the "ssm" source', "Squall does not do"],
    ),
    (
        "file missing",
        "custom: ${file(./absent.yml)}\n",
        "custom",
        ["file ./absent.yml does not exist"],
    ),
    (
        "file key missing",
        "custom:\n  x: ${file(./other.yml):nope}\n",
        "custom.x",
        ["nope is not set in ./other.yml"],
    ),
    (
        "javascript file",
        "custom: ${file(./config.js)}\n",
        "custom",
        ["expected a .yml, .yaml or .json file"],
    ),
    (
        "cycle",
        "custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n",
        "custom.a",
        ["cycle", "custom.a -> custom.b -> custom.a"],
    ),
    (
        "mapping inside a string",
        "custom:\n  tags: {a: b}\n  name: x-${self:custom.tags}\n",
        "custom.name",
        ["resolves to a mapping", "string, number or boolean"],
    ),
    (
        "sls unknown address",
        "custom:\n  id: ${sls:instanceName}\n",
        "custom.id",
        ['"instanceName"', 'expected "stage" or "instanceId"'],
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragments"),
    [pytest.param(text, key, fragments, id=case) for case, text, key, fragments in BAD_VARIABLES],
)
def test_unresolvable_variable_message(tmp_path: Path, text: str, key: str, fragments: list[str]) -> None:
    files = {"other.yml": "present: 1\n", "config.js": "module.exports = {}\n"}

    with pytest.raises(ManifestError) as raised:
        _resolve(tmp_path, "service: shop\n" + text, files=files)

    assert raised.value.path == "serverless.yml"
    assert raised.value.key == key
    for fragment in fragments:
        assert fragment in raised.value.detail


def test_secret_references_kept(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def hello(event, context):\n    return 1\n")
    (tmp_path / "serverless.yml").write_text(
        "service: sec\nprovider:\n  name: aws\n  runtime: python3.12\n  environment:\n"
        '    DSN: "pg://app:${secret:DB_PASSWORD}@db"\n'
        "functions:\n  hello:\n    handler: handler.hello\n    environment:\n      KEY: ${secret:API_KEY}\n"
    )

    environment = load_service(tmp_path).functions["hello"].environment

    assert environment == {"DSN": "pg://app:${secret:DB_PASSWORD}@db", "KEY": "${secret:API_KEY}"}


def test_provider_stage_from_the_stage_option(tmp_path: Path) -> None:
    text = """
service: shop
provider: {stage: "${opt:stage}", region: "${opt:region}"}
custom: {table: "${self:service}-${sls:stage}"}
"""
    with_options = _resolve(tmp_path, text, {"stage": "prod", "region": "eu-central-1"})
    default = _resolve(tmp_path, text)

    assert (with_options["provider"], with_options["custom"]["table"]) == ({"stage": "prod", "region": "eu-central-1"}, "shop-prod")
    # Without the options, Squall deploys to the default stage and region instead of reporting a cycle.
    assert (default["provider"], default["custom"]["table"]) == ({"stage": "dev", "region": "us-east-1"}, "shop-dev")


def test_instance_id_stable_per_manifest_and_stage(tmp_path: Path) -> None:
    text = "service: shop\ncustom: {id: '${sls:instanceId}', queue: 'jobs-${sls:instanceId}'}\n"

    first = _resolve(tmp_path, text)["custom"]
    again = _resolve(tmp_path, text)["custom"]
    prod = _resolve(tmp_path, text, {"stage": "prod"})["custom"]
    edited = _resolve(tmp_path, text + "provider: {memorySize: 256}\n")["custom"]

    assert re.fullmatch(r"[0-9]{13}", first["id"])
    assert first["queue"] == f"jobs-{first['id']}"
    assert again == first
    assert prod["id"] != first["id"]
    assert edited["id"] != first["id"]


def test_instance_id_same_in_code_copy(tmp_path: Path) -> None:
    """A deploy resolves the manifest in the service folder and a restart the one in the code copy, to one id."""
    manifest = (
        "service: shop\nprovider:\n  name: aws\n  runtime: python3.12\n  environment:\n"
        "    DEPLOY_ID: ${sls:instanceId}\nfunctions:\n  hello:\n    handler: handler.hello\n"
    )
    ids = []
    for folder in (tmp_path / "service", tmp_path / "code" / "0f3a"):
        folder.mkdir(parents=True)
        (folder / "handler.py").write_text("def hello(event, context):\n    return 1\n")
        (folder / "serverless.yml").write_text(manifest)
        ids.append(load_service(folder).functions["hello"].environment["DEPLOY_ID"])

    assert ids[0] == ids[1]


def test_function_list_from_files_merged(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (tmp_path / "greet-functions.yml").write_text("greet:\n  handler: app.greet\n  events:\n    - httpApi: 'GET /hello'\n")
    (tmp_path / "serverless.yml").write_text(
        "service: split\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n"
        "  - ${file(./greet-functions.yml)}\n  - wave: {handler: app.greet}\n"
    )

    service = load_service(tmp_path)

    assert sorted(service.functions) == ["greet", "wave"]
    assert [event.path for event in service.functions["greet"].http] == ["/hello"]


@pytest.mark.parametrize(
    ("items", "fragment"),
    [("  - greet: {handler: app.greet}\n  - greet: {handler: app.other}\n",
      "functions[1].greet: function 'greet' is already defined by an earlier item of the list"),
     ("  - app.greet\n", "functions[0]: expected a mapping of function names to function settings")],
)
def test_function_list_mistake_message(tmp_path: Path, items: str, fragment: str) -> None:
    (tmp_path / "app.py").write_text("def greet(event, context):\n    return 'hi'\n")
    (tmp_path / "serverless.yml").write_text("service: split\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n" + items)

    with pytest.raises(ManifestError) as raised:
        load_service(tmp_path)

    assert fragment in str(raised.value)
