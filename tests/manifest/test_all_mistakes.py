"""A manifest with several mistakes: one ManifestError lists them all, in the order of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.gateway.router import RouteError, Router
from squall.manifest import load_service
from squall.manifest.validate import MAX_OTHER_PROBLEMS
from tests.manifest.conftest import WriteService

RESERVED_RULE = (
    "so the function would never be called; expected a path outside the ones Squall reserves "
    "(GET /metrics, and /ui, /_squall, /2015-03-31, /2024-08-31 and every path under them). "
    "A greedy route such as ANY /{proxy+} may still take every other path"
)
BAD_PARAMETER_RULE = (
    "expected a whole segment such as {id} or {proxy+}, with a name of a letter or underscore "
    "followed by letters, digits, underscores or hyphens"
)

SQUALL_YML = """\
service: shop
functions:
  list:
    handler: missing.greet
    reserved_concurrency: 1
    provisioned: 2
    events:
      - http: {method: GET, path: /items}
  show:
    handler: app.greet
    events:
      - http: {method: GET, path: "/items/{id"}
      - http: {method: GET, path: /items}
      - http: {method: GET, path: /ui/items}
"""

SERVERLESS_YML = """\
service: shop
provider: {name: aws, runtime: python3.12}
functions:
  list:
    handler: missing.greet
    reservedConcurrency: 1
    provisionedConcurrency: 2
    events:
      - httpApi: GET /items
  show:
    handler: app.greet
    events:
      - httpApi: "GET /items/{id"
      - httpApi: GET /items
      - httpApi: GET /ui/items
"""

TEMPLATE_YAML = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  List:
    Type: AWS::Serverless::Function
    Properties:
      Handler: missing.greet
      Runtime: python3.12
      ReservedConcurrentExecutions: 1
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}
      Events:
        Get: {Type: HttpApi, Properties: {Method: GET, Path: /items}}
  Show:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
      Events:
        Bad: {Type: HttpApi, Properties: {Method: GET, Path: "/items/{id"}}
        Get: {Type: HttpApi, Properties: {Method: GET, Path: /items}}
        Ui: {Type: HttpApi, Properties: {Method: GET, Path: /ui/items}}
"""


def missing_module(root: Path) -> str:
    return (
        'handler "missing.greet" names module "missing", but neither missing.py nor '
        f"missing/__init__.py exists in {root}, and the function has no layer or requirements.txt that could provide it"
    )


def load_error(write_service: WriteService, name: str, text: str) -> ManifestError:
    write_service(text, name=name)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


@pytest.mark.parametrize(
    ("name", "text", "expected_lines"),
    [
        pytest.param(
            "squall.yml",
            SQUALL_YML,
            [
                "squall.yml: functions.list.handler: {missing}",
                "  also functions.list.provisioned: expected at most reserved_concurrency (1), got 2",
                '  also functions.show.events[0].http.path: invalid parameter "{id" in path "/items/{id", '
                + BAD_PARAMETER_RULE,
                '  also functions.show.events[1].http: route GET /items is already declared by function "list" at '
                "functions.list.events[0].http, expected each method and path to belong to one function",
                "  also functions.show.events[2].http: GET /ui/items is served by the dashboard, " + RESERVED_RULE,
            ],
            id="squall.yml",
        ),
        pytest.param(
            "serverless.yml",
            SERVERLESS_YML,
            [
                "serverless.yml: functions.list.handler: {missing}",
                "  also functions.list.provisionedConcurrency: expected at most reservedConcurrency (1), got 2",
                '  also functions.show.events[0].httpApi: invalid parameter "{id" in path "/items/{id", '
                + BAD_PARAMETER_RULE,
                '  also functions.show.events[1].httpApi: route GET /items is already declared by function "list" at '
                "functions.list.events[0].httpApi, expected each method and path to belong to one function",
                "  also functions.show.events[2].httpApi: GET /ui/items is served by the dashboard, " + RESERVED_RULE,
            ],
            id="serverless.yml",
        ),
        pytest.param(
            "template.yaml",
            TEMPLATE_YAML,
            [
                "template.yaml: Resources.List.Properties.Handler: {missing}",
                "  also Resources.List.Properties.ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions: "
                "expected at most ReservedConcurrentExecutions (1), got 2",
                '  also Resources.Show.Properties.Events.Bad.Properties.Path: invalid parameter "{id" in path '
                '"/items/{id", ' + BAD_PARAMETER_RULE,
                '  also Resources.Show.Properties.Events.Get: route GET /items is already declared by function "List" '
                "at Resources.List.Properties.Events.Get, expected each method and path to belong to one function",
                "  also Resources.Show.Properties.Events.Ui: GET /ui/items is served by the dashboard, " + RESERVED_RULE,
            ],
            id="template.yaml",
        ),
    ],
)
def test_every_mistake_listed(
    write_service: WriteService, name: str, text: str, expected_lines: list[str]
) -> None:
    error = load_error(write_service, name, text)

    lines = str(error).splitlines()
    root = Path(".").resolve()
    assert lines[0] == expected_lines[0].format(missing=missing_module(root))
    for index, expected_line in enumerate(expected_lines[1:], start=1):
        assert lines[index] == expected_line
    assert len(lines) == len(expected_lines)
    assert error.path == name
    assert error.key == expected_lines[0].split(": ")[1]


@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        ("squall.yml", "service: shop\nfunctions:\n  list: {handler: missing.greet}\n", "functions.list.handler"),
        (
            "serverless.yml",
            "service: shop\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n  list: {handler: missing.greet}\n",
            "functions.list.handler",
        ),
        (
            "template.yaml",
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  List:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {Handler: missing.greet, Runtime: python3.12}\n",
            "Resources.List.Properties.Handler",
        ),
    ],
)
def test_single_mistake_message_unchanged(write_service: WriteService, name: str, text: str, key: str) -> None:
    error = load_error(write_service, name, text)

    assert str(error) == f"{name}: {key}: {missing_module(Path('.').resolve())}"


@pytest.mark.parametrize(
    ("name", "text", "only_line"),
    [
        pytest.param(
            "squall.yml",
            """\
            service: shop
            functions:
              list:
                handler: app.greet
                events:
                  - http: {method: GET, path: /items}
                  - http: {method: GET, path: "/items//"}
            """,
            'squall.yml: functions.list.events[1].http.path: expected a path without empty segments or a trailing "/", '
            'got "/items//"',
            id="bad path is not also a clash",
        ),
        pytest.param(
            "serverless.yml",
            """\
            service: shop
            provider: {name: aws, runtime: python3.12}
            functions:
              list:
                handler: app.greet
                reservedConcurrency: many
                provisionedConcurrency: 2
            """,
            'serverless.yml: functions.list.reservedConcurrency: expected a whole number of instances, 0 or more, '
            'got "many"',
            id="bad reserved count is not compared",
        ),
        pytest.param(
            "serverless.yml",
            """\
            service: shop
            provider: {name: aws, runtime: python3.12}
            functions:
              work:
                handler: app.greet
                events:
                  - sqs: {arn: {Fn::GetAtt: [Jobs, Arn]}}
            resources:
              Resources:
                Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: "bad name!"}}
            """,
            "serverless.yml: resources.Resources.Jobs.Properties.QueueName: expected a name of 1 to 80 letters, "
            'digits, hyphens or underscores, ending in .fifo for a FIFO queue, got "bad name!"',
            id="event on a failed queue is not checked",
        ),
        pytest.param(
            "template.yaml",
            """\
            Transform: AWS::Serverless-2016-10-31
            Resources:
              List:
                Type: AWS::Serverless::Function
                Properties:
                  Handler: app.greet
                  Runtime: python3.12
                  ReservedConcurrentExecutions: -1
                  AutoPublishAlias: live
                  ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}
            """,
            "template.yaml: Resources.List.Properties.ReservedConcurrentExecutions: expected a whole number of "
            "instances, 0 or more, got -1",
            id="bad reserved count is not compared in a template",
        ),
    ],
)
def test_follow_on_mistake_skipped(write_service: WriteService, name: str, text: str, only_line: str) -> None:
    error = load_error(write_service, name, text)

    assert str(error) == only_line


def test_mistakes_sorted_by_file_order(write_service: WriteService) -> None:
    # The reader checks the handler before the events, but the events come first in the file.
    error = load_error(
        write_service,
        "serverless.yml",
        """\
        service: shop
        provider: {name: aws, runtime: python3.12}
        functions:
          list:
            events:
              - httpApi: "GET /items/{id"
            timeout: 0
            handler: missing.greet
        """,
    )

    lines = str(error).splitlines()
    assert lines[0].startswith("serverless.yml: functions.list.events[0].httpApi: ")
    assert lines[1].startswith("  also functions.list.timeout: expected whole seconds between 1 and 900, got 0")
    assert lines[2].startswith("  also functions.list.handler: handler \"missing.greet\"")
    assert len(lines) == 3


def test_long_list_is_cut(write_service: WriteService) -> None:
    count = MAX_OTHER_PROBLEMS + 3
    functions = "".join(f"  f{index}: {{handler: missing{index}.greet}}\n" for index in range(count))

    error = load_error(write_service, "squall.yml", "service: shop\nfunctions:\n" + functions)

    lines = str(error).splitlines()
    assert lines[0].startswith("squall.yml: functions.f0.handler: ")
    assert lines[MAX_OTHER_PROBLEMS].startswith(f"  also functions.f{MAX_OTHER_PROBLEMS}.handler: ")
    assert lines[-1] == "  and 2 more"
    assert len(lines) == MAX_OTHER_PROBLEMS + 2


def test_lone_reserved_route_left_to_router(write_service: WriteService) -> None:
    write_service(
        """\
        service: shop
        functions:
          list:
            handler: app.greet
            events:
              - http: {method: GET, path: /ui/items}
        """
    )

    service = load_service(Path("."))

    with pytest.raises(RouteError) as raised:
        Router((spec.name, event) for spec in service.functions.values() for event in spec.http)
    assert str(raised.value).startswith("function 'list': http route '/ui/items': GET /ui/items is served by the dashboard")


def test_two_reserved_routes_listed(write_service: WriteService) -> None:
    error = load_error(
        write_service,
        "squall.yml",
        """\
        service: shop
        functions:
          list:
            handler: app.greet
            events:
              - http: {method: GET, path: /_squall/items}
              - http: {method: GET, path: /metrics}
        """,
    )

    lines = str(error).splitlines()
    assert lines[0].startswith(
        "squall.yml: functions.list.events[0].http: GET /_squall/items is served by Squall's management"
    )
    assert lines[1].startswith("  also functions.list.events[1].http: GET /metrics is served by the Prometheus")
    assert len(lines) == 2


def test_rest_stage_on_reserved_path_listed(write_service: WriteService) -> None:
    # A REST route is also requested under the service's stage, here "ui".
    write_service(
        """\
        service: shop
        provider: {name: aws, runtime: python3.12, stage: ui}
        functions:
          list:
            handler: missing.greet
            events:
              - http: GET items
        """,
        name="serverless.yml",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    lines = str(raised.value).splitlines()
    assert lines[0].startswith("serverless.yml: functions.list.handler: ")
    assert lines[1].startswith("  also functions.list.events[0].http: with stage 'ui', GET /ui/items is served by the dashboard")
    assert len(lines) == 2


def test_unresolvable_template_value_listed(write_service: WriteService) -> None:
    error = load_error(
        write_service,
        "template.yaml",
        """\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          List:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.greet
              Runtime: !ImportValue SharedRuntime
              Timeout: 0
        """,
    )

    lines = str(error).splitlines()
    assert lines[0].startswith("template.yaml: Resources.List.Properties.Runtime.Fn::ImportValue: ")
    assert lines[1] == "  also Resources.List.Properties.Timeout: expected whole seconds between 1 and 900, got 0"
    assert len(lines) == 2


def test_shared_globals_mistake_listed_once(write_service: WriteService) -> None:
    error = load_error(
        write_service,
        "template.yaml",
        """\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function:
            Runtime: python2.7
            Timeout: 0
        Resources:
          List: {Type: AWS::Serverless::Function, Properties: {Handler: app.greet}}
          Show: {Type: AWS::Serverless::Function, Properties: {Handler: app.greet}}
        """,
    )

    lines = str(error).splitlines()
    assert lines[0] == (
        'template.yaml: Globals.Function.Runtime: expected a Python 3 runtime "python3.N", such as "python3.12" '
        '(Squall runs Python 3 functions only), got "python2.7"'
    )
    assert lines[1] == "  also Globals.Function.Timeout: expected whole seconds between 1 and 900, got 0"
    assert len(lines) == 2
