"""AWS::Serverless::Function properties, Globals, events and resources: translations, warnings and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import find_manifest, load_service
from squall.manifest.spec import (
    ApiType,
    AsyncConfig,
    CorsConfig,
    Destination,
    FunctionSpec,
    HttpEvent,
    ObjectTrigger,
    QueueResource,
    QueueTrigger,
    ScheduleTrigger,
)
from tests.manifest.conftest import WriteService

RESOURCES = """\
  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs}}
  Failed: {Type: AWS::SQS::Queue, Properties: {QueueName: failed}}
  Files: {Type: AWS::S3::Bucket, Properties: {BucketName: files}}
  Clicks: {Type: AWS::Kinesis::Stream, Properties: {Name: clicks}}
"""


def template(function: str, globals_text: str = "", resources: str = RESOURCES) -> str:
    """Build a template with one function `Fn`; `function` is its indented Properties body."""
    head = "Transform: AWS::Serverless-2016-10-31\n"
    if globals_text:
        head += "Globals:\n  Function:\n" + textwrap.indent(textwrap.dedent(globals_text), "    ")
    body = textwrap.indent(textwrap.dedent(function), "      ")
    return head + "Resources:\n" + resources + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n" + body


BASE = "Handler: app.greet\nRuntime: python3.12\n"


def load(write_service: WriteService, text: str, modules: tuple[str, ...] = ("app.py",)) -> FunctionSpec:
    write_service(text, name="template.yaml", modules=modules)
    return load_service(Path(".")).functions["Fn"]


def load_error(write_service: WriteService, text: str, modules: tuple[str, ...] = ("app.py",)) -> ManifestError:
    write_service(text, name="template.yaml", modules=modules)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


def test_globals_merge(write_service: WriteService) -> None:
    globals_text = """\
        Runtime: python3.11
        Handler: app.greet
        MemorySize: 512
        Timeout: 20
        Environment: {Variables: {SHARED: one, OVERRIDDEN: global}}
    """
    function = load(
        write_service, template("Timeout: 5\nEnvironment: {Variables: {OVERRIDDEN: local, OWN: two}}\n", globals_text)
    )

    assert function.runtime == "python3.11"
    assert function.handler == "app.greet"
    assert function.memory_mb == 512
    assert function.timeout_s == 5
    assert function.environment == {"SHARED": "one", "OVERRIDDEN": "local", "OWN": "two"}


def test_globals_error_names_globals(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE, "Timeout: 0\n"))

    assert str(error) == "template.yaml: Globals.Function.Timeout: expected whole seconds between 1 and 900, got 0"


def test_lambda_defaults(write_service: WriteService) -> None:
    function = load(write_service, template(BASE))

    assert function == FunctionSpec(name="Fn", handler="app.greet", runtime="python3.12")


def test_code_uri_is_code_root(write_service: WriteService) -> None:
    function = load(write_service, template(BASE + "CodeUri: functions/get-user/\n"), modules=("functions/get-user/app.py",))

    # As on Lambda, the handler's module is imported from the CodeUri folder, whatever its name.
    assert (function.handler, function.code_dir) == ("app.greet", "functions/get-user")
    assert function.module == "app"
    assert function.handler_path == "functions/get-user/app.greet"


@pytest.mark.parametrize(
    ("properties", "modules", "key", "message"),
    [
        (
            "Handler: app.greet\nRuntime: nodejs20.x\n",
            ("app.py",),
            "Resources.Fn.Properties.Runtime",
            'expected a Python 3 runtime "python3.N", such as "python3.12" (Squall runs Python 3 functions only), got "nodejs20.x"',
        ),
        (
            "Handler: app.greet\n",
            ("app.py",),
            "Resources.Fn.Properties.Runtime",
            'missing, expected a Python 3 runtime "python3.N", such as "python3.12"',
        ),
        (
            "Runtime: python3.12\n",
            ("app.py",),
            "Resources.Fn.Properties.Handler",
            'missing, expected a handler as "module.function", such as "app.handler" or "src/app.handler"',
        ),
        (
            BASE + "CodeUri: missing/\n",
            ("app.py",),
            "Resources.Fn.Properties.CodeUri",
            'folder "missing/" not found in',
        ),
        (
            BASE + "CodeUri: ../elsewhere\n",
            ("app.py",),
            "Resources.Fn.Properties.CodeUri",
            'expected a folder inside the template\'s folder, got "../elsewhere"',
        ),
        (
            BASE + "CodeUri: s3://bucket/code.zip\n",
            ("app.py",),
            "Resources.Fn.Properties.CodeUri",
            "expected a folder relative to the template, such as src/ (S3 locations are not supported)",
        ),
        (
            BASE + "PackageType: Image\n",
            ("app.py",),
            "Resources.Fn.Properties.PackageType",
            'expected "Zip" (container images are not supported by Squall), got "Image"',
        ),
        (
            BASE + "InlineCode: 'def greet(e, c): pass'\n",
            ("app.py",),
            "Resources.Fn.Properties.InlineCode",
            "InlineCode is not supported by Squall",
        ),
        (
            "Handler: other.greet\nRuntime: python3.12\n",
            ("app.py",),
            "Resources.Fn.Properties.Handler",
            'handler "other.greet" names module "other", but neither other.py nor other/__init__.py exists',
        ),
        (
            BASE + "MemorySize: 64\n",
            ("app.py",),
            "Resources.Fn.Properties.MemorySize",
            "expected whole megabytes between 128 and 10240, got 64",
        ),
        (
            BASE + "ReservedConcurrentExecutions: 1\nProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}\n",
            ("app.py",),
            "Resources.Fn.Properties.ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions",
            "expected at most ReservedConcurrentExecutions (1), got 2",
        ),
        (
            BASE + "Environment: {Variables: {VALUE: [a, b]}}\n",
            ("app.py",),
            "Resources.Fn.Properties.Environment.Variables.VALUE",
            "expected a string, number or boolean, got a list",
        ),
        (
            BASE + "AutoPublishAlias: live/2\n",
            ("app.py",),
            "Resources.Fn.Properties.AutoPublishAlias",
            "expected an alias name of 1 to 128 letters, digits, '-' or '_', not only digits, got \"live/2\"",
        ),
    ],
)
def test_function_property_error(
    write_service: WriteService, properties: str, modules: tuple[str, ...], key: str, message: str
) -> None:
    error = load_error(write_service, template(properties), modules)

    assert error.path == "template.yaml"
    assert error.key == key
    assert message in error.detail


def test_numbers_given_as_strings(write_service: WriteService) -> None:
    # CloudFormation accepts "256" for an integer property, as a Number parameter gives it.
    function = load(write_service, template(BASE + 'MemorySize: "256"\nTimeout: "7"\nReservedConcurrentExecutions: "0"\n'))

    assert function.memory_mb == 256
    assert function.timeout_s == 7
    assert function.reserved_concurrency == 0


def test_unsupported_properties_warn(write_service: WriteService) -> None:
    write_service(
        template(BASE + "Tracing: Active\nSnapStart: {ApplyOn: None}\nFunctionName: greeter\n", resources=RESOURCES),
        name="template.yaml",
    )

    spec = load_service(Path("."))

    assert set(spec.functions) == {"Fn"}
    assert "Resources.Fn.Properties.Tracing: ignored, because X-Ray tracing is not supported by Squall" in spec.warnings
    assert "Resources.Fn.Properties.SnapStart: not supported by Squall yet, ignored" in spec.warnings
    # FunctionName is another name the Invoke API takes, not an unsupported property.
    assert spec.functions["Fn"].aws_name == "greeter"
    assert not any("FunctionName" in warning for warning in spec.warnings)


def test_invalid_function_name_is_an_error(write_service: WriteService) -> None:
    write_service(template(BASE + "FunctionName: 'has spaces'\n", resources=RESOURCES), name="template.yaml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert "Resources.Fn.Properties.FunctionName" in str(raised.value)
    assert "has spaces" in str(raised.value)


def test_false_condition_leaves_resources_out(write_service: WriteService) -> None:
    text = textwrap.dedent(
        """\
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          WithWorker: {Type: String, Default: "no"}
        Conditions:
          HasWorker: !Equals [!Ref WithWorker, "yes"]
        Resources:
          WorkQueue: {Type: AWS::SQS::Queue, Condition: HasWorker}
          Worker:
            Type: AWS::Serverless::Function
            Condition: HasWorker
            Properties: {Handler: app.greet, Runtime: python3.12}
          Api:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.greet
              Runtime: python3.12
              Environment:
                Variables:
                  QUEUE: !If [HasWorker, !Ref WorkQueue, none]
        """
    )
    write_service(text, name="template.yaml")

    spec = load_service(Path("."))

    assert set(spec.functions) == {"Api"}
    assert spec.functions["Api"].environment == {"QUEUE": "none"}
    assert spec.resources.queues == ()


@pytest.mark.parametrize(
    "value",
    ["'{{resolve:secretsmanager:app/db:SecretString:password}}'", "!Sub 'postgres://app:{{resolve:ssm:/app/pw}}@db'"],
)
def test_dynamic_reference_is_error(write_service: WriteService, value: str) -> None:
    error = load_error(write_service, template(BASE + f"Environment: {{Variables: {{DB_PASSWORD: {value}}}}}\n"))

    assert error.key == "Resources.Fn.Properties.Environment.Variables.DB_PASSWORD"
    assert "dynamic references ({{resolve:...}}) are not filled in by Squall" in error.detail
    assert "${secret:NAME}" in error.detail


def test_reference_to_absent_resource_is_error(write_service: WriteService) -> None:
    resources = RESOURCES + "  Extra: {Type: AWS::SQS::Queue, Condition: Never}\n"
    text = "Conditions:\n  Never: !Equals [a, b]\n" + template(BASE + "Environment: {Variables: {QUEUE: !Ref Extra}}\n",
                                                               resources=resources)

    error = load_error(write_service, text)

    assert error.key == "Resources.Fn.Properties.Environment.Variables.QUEUE.Ref"
    assert error.detail.startswith("resource Extra is not created because its condition Never is false")


# Events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "routes"),
    [
        ("A: {Type: Api, Properties: {Path: /a, Method: any}}", (HttpEvent("ANY", "/a", "1.0", "Prod"),)),
        ('A: {Type: HttpApi, Properties: {Path: "/a/{id}", Method: delete}}', (HttpEvent("DELETE", "/a/{id}", "2.0"),)),
        ("A: {Type: HttpApi, Properties: {Path: /a}}", (HttpEvent("ANY", "/a", "2.0"),)),
        # An HTTP API that sends payload 1.0 events is still an HTTP API.
        ("A: {Type: HttpApi, Properties: {Path: /a, Method: GET, PayloadFormatVersion: 1.0}}",
         (HttpEvent("GET", "/a", "1.0", api=ApiType.HTTP),)),
        ("A: {Type: HttpApi}", (HttpEvent("ANY", "$default", "2.0"),)),
    ],
)
def test_http_events(write_service: WriteService, events: str, routes: tuple[HttpEvent, ...]) -> None:
    function = load(write_service, template(BASE + "Events:\n  " + events + "\n"))

    assert function.http == routes


def test_api_event_takes_stage_of_its_rest_api(write_service: WriteService) -> None:
    events = "Events:\n  A: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref MyApi, Auth: {ApiKeyRequired: true}}}\n"
    resources = RESOURCES + "  MyApi: {Type: AWS::Serverless::Api, Properties: {StageName: prod, Cors: '*'}}\n"
    write_service(template(BASE + events, resources=resources), name="template.yaml")

    spec = load_service(Path("."))

    # Served under the explicit API's stage, as its invoke URL is.
    assert spec.functions["Fn"].http == (HttpEvent("GET", "/a", "1.0", "prod", cors=CorsConfig(("*",), (), None)),)
    assert "Resources.Fn.Properties.Events.A.Properties.Auth: not supported by Squall yet, ignored" in spec.warnings
    assert not any("Cors" in warning for warning in spec.warnings)
    assert not any("StageName" in warning or "RestApiId" in warning for warning in spec.warnings)


def test_http_api_event_stage_from_api(write_service: WriteService) -> None:
    events = (
        "Events:\n"
        "  A: {Type: HttpApi, Properties: {Path: /a, Method: get, ApiId: !Ref DevApi}}\n"
        "  B: {Type: HttpApi, Properties: {ApiId: !Ref DefaultApi}}\n"
    )
    resources = RESOURCES + (
        "  DevApi: {Type: AWS::Serverless::HttpApi, Properties: {StageName: dev, CorsConfiguration: true}}\n"
        "  DefaultApi: {Type: AWS::Serverless::HttpApi, Properties: {StageName: $default}}\n"
    )
    write_service(template(BASE + events, resources=resources), name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].http == (
        HttpEvent("GET", "/a", "2.0", stage="dev", cors=CorsConfig(("*",), (), ())),
        HttpEvent("ANY", "$default", "2.0"),
    )
    assert not any("CorsConfiguration" in warning for warning in spec.warnings)
    assert not any("StageName" in warning or "ApiId" in warning or "DefaultApi" in warning for warning in spec.warnings)


def test_http_api_stages_do_not_clash(write_service: WriteService) -> None:
    events = (
        "Events:\n"
        "  B: {Type: HttpApi, Properties: {Path: /x, Method: get, ApiId: !Ref Beta}}\n"
        "  G: {Type: HttpApi, Properties: {Path: /x, Method: get, ApiId: !Ref Gamma}}\n"
        "  R: {Type: HttpApi, Properties: {Path: /x, Method: get}}\n"
    )
    resources = RESOURCES + (
        "  Beta: {Type: AWS::Serverless::HttpApi, Properties: {StageName: beta}}\n"
        "  Gamma: {Type: AWS::Serverless::HttpApi, Properties: {StageName: gamma}}\n"
    )
    write_service(template(BASE + events, resources=resources), name="template.yaml")

    spec = load_service(Path("."))

    assert [event.stage for event in spec.functions["Fn"].http] == ["beta", "gamma", None]


def test_root_route_on_staged_path_clashes(write_service: WriteService) -> None:
    events = (
        "Events:\n"
        "  B: {Type: HttpApi, Properties: {Path: /x, Method: get, ApiId: !Ref Beta}}\n"
        "  R: {Type: HttpApi, Properties: {Path: /beta/x, Method: get}}\n"
    )
    resources = RESOURCES + "  Beta: {Type: AWS::Serverless::HttpApi, Properties: {StageName: beta}}\n"

    error = load_error(write_service, template(BASE + events, resources=resources))

    assert error.key == "Resources.Fn.Properties.Events.R"
    assert "matches the same requests as /x, declared by function" in error.detail


def test_http_api_id_names_http_api(write_service: WriteService) -> None:
    events = "Events:\n  A: {Type: HttpApi, Properties: {Path: /a, Method: get, ApiId: !Ref MyApi}}\n"
    resources = RESOURCES + "  MyApi: {Type: AWS::Serverless::Api, Properties: {StageName: prod}}\n"

    error = load_error(write_service, template(BASE + events, resources=resources))

    assert error.key == "Resources.Fn.Properties.Events.A.Properties.ApiId"
    assert "expected !Ref of an AWS::Serverless::HttpApi of this template (none is declared), got !Ref MyApi" in str(error)


def test_rest_api_id_must_name_an_api(write_service: WriteService) -> None:
    events = "Events:\n  A: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref Missing}}\n"
    resources = RESOURCES + "  MyApi: {Type: AWS::Serverless::Api, Properties: {StageName: prod}}\n"

    error = load_error(write_service, template(BASE + events, resources=resources))

    assert error.key == "Resources.Fn.Properties.Events.A.Properties.RestApiId"
    assert "expected !Ref of an AWS::Serverless::Api of this template (MyApi), got !Ref Missing" in str(error)


def test_sqs_event_defaults(write_service: WriteService) -> None:
    function = load(write_service, template(BASE + "Events:\n  Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, Enabled: false}}\n"))

    # Without FunctionResponseTypes, a batchItemFailures result is ignored, as on Lambda.
    assert function.triggers == (QueueTrigger("jobs", enabled=False, report_batch_item_failures=False),)


def test_sqs_event_takes_literal_arn(write_service: WriteService) -> None:
    queue_arn = "arn:aws:sqs:eu-west-1:123456789012:existing-queue"
    function = load(write_service, template(BASE + f"Events:\n  Q: {{Type: SQS, Properties: {{Queue: {queue_arn}}}}}\n"))

    assert function.triggers == (QueueTrigger("existing-queue", report_batch_item_failures=False),)


@pytest.mark.parametrize(
    ("properties", "name", "group"),
    [
        # SAM names an unnamed schedule after the function's logical id and the event's name.
        ("ScheduleExpression: rate(1 day)", "FnS", "default"),
        ("ScheduleExpression: rate(1 day), Name: nightly, GroupName: reports", "nightly", "reports"),
    ],
)
def test_schedule_v2_is_scheduler_schedule(write_service: WriteService, properties: str, name: str, group: str) -> None:
    function = load(write_service, template(BASE + f"Events:\n  S: {{Type: ScheduleV2, Properties: {{{properties}}}}}\n"))

    assert function.triggers == (ScheduleTrigger("rate(1 day)", rule_name=name, scheduler_group=group),)


def test_s3_event_names(write_service: WriteService) -> None:
    events = """\
        Events:
          Uploads:
            Type: S3
            Properties:
              Bucket: !Ref Files
              Events: [s3:ObjectCreated:Put, s3:ObjectCreated:CompleteMultipartUpload, s3:ObjectRemoved:*, s3:ObjectRestore:*]
              Filter: {S3Key: {Rules: [{Name: Suffix, Value: .jpg}]}}
    """
    write_service(template(BASE + textwrap.dedent(events)), name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].triggers == (
        ObjectTrigger("files", ("s3:ObjectCreated:Put", "s3:ObjectRemoved:*"), "", ".jpg"),
    )
    key = "Resources.Fn.Properties.Events.Uploads.Properties.Events"
    assert f"{key}[1]: s3:ObjectCreated:CompleteMultipartUpload is never produced by Squall's object store, so it " \
        "never fires" in spec.warnings
    assert f"{key}[3]: s3:ObjectRestore:* is not supported by Squall, ignored" in spec.warnings


def test_pattern_events_warn(write_service: WriteService) -> None:
    events = "Events:\n  Rule: {Type: EventBridgeRule, Properties: {Pattern: {source: [aws.ec2]}}}\n  Topic: {Type: SNS, Properties: {Topic: arn:aws:sns:us-east-1:1:t}}\n"
    write_service(template(BASE + events), name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].triggers == ()
    assert any(warning.startswith("Resources.Fn.Properties.Events.Rule: EventBridgeRule events match event patterns")
               for warning in spec.warnings)
    assert 'Resources.Fn.Properties.Events.Topic.Type: event type "SNS" is not supported by Squall yet, ignored' \
        in spec.warnings


def test_dead_letter_queue_kept_apart(write_service: WriteService) -> None:
    write_service(template(BASE + "DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Failed.Arn}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].async_config == AsyncConfig(dead_letter_queue="failed")
    assert not any("DeadLetterQueue" in warning for warning in spec.warnings)


def test_dead_letter_queue_beside_on_failure(write_service: WriteService) -> None:
    properties = (
        "DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Failed.Arn}\n"
        "EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Jobs.Arn}}}\n"
    )
    write_service(template(BASE + properties), name="template.yaml")

    spec = load_service(Path("."))

    config = spec.functions["Fn"].async_config
    assert config.dead_letter_queue == "failed"
    assert config.on_failure == Destination("queue", "jobs")
    assert not any("DeadLetterQueue" in warning for warning in spec.warnings)


def test_dead_letter_queue_beside_stream_on_failure(write_service: WriteService) -> None:
    properties = (
        "DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Jobs.Arn}\n"
        "Events:\n  K: {Type: Kinesis, Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST, "
        "DestinationConfig: {OnFailure: {Destination: !GetAtt Failed.Arn}}}}\n"
    )

    function = load(write_service, template(BASE + properties))

    assert function.async_config.dead_letter_queue == "jobs"
    assert function.async_config.on_failure == Destination("queue", "failed")


def test_sns_dead_letter_queue_ignored(write_service: WriteService) -> None:
    properties = "DeadLetterQueue: {Type: SNS, TargetArn: arn:aws:sns:us-east-1:123456789012:alerts}\n"
    write_service(template(BASE + properties), name="template.yaml")

    spec = load_service(Path("."))

    assert spec.functions["Fn"].async_config == AsyncConfig()
    assert "Resources.Fn.Properties.DeadLetterQueue.Type: SNS destinations are not supported by Squall yet, ignored" \
        in spec.warnings


@pytest.mark.parametrize(
    ("properties", "key", "message"),
    [
        (
            "Events:\n  Q: {Type: SQS, Properties: {Queue: not a queue}}\n",
            "Resources.Fn.Properties.Events.Q.Properties.Queue",
            'expected the ARN of a queue, such as !GetAtt MyQueue.Arn, got "not a queue"',
        ),
        (
            "Events:\n  Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 0}}\n",
            "Resources.Fn.Properties.Events.Q.Properties.BatchSize",
            "expected a whole number of messages between 1 and 10000, got 0",
        ),
        (
            "Events:\n  K: {Type: Kinesis, Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: AT_TIMESTAMP}}\n",
            "Resources.Fn.Properties.Events.K.Properties.StartingPosition",
            'expected "LATEST" or "TRIM_HORIZON" (AT_TIMESTAMP is not supported by Squall), got "AT_TIMESTAMP"',
        ),
        (
            "Events:\n  K: {Type: DynamoDB, Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST}}\n",
            "Resources.Fn.Properties.Events.K.Properties.Stream",
            "expected the ARN of a table stream, such as !GetAtt MyTable.StreamArn",
        ),
        (
            "Events:\n  S: {Type: Schedule, Properties: {Schedule: every day}}\n",
            "Resources.Fn.Properties.Events.S.Properties.Schedule",
            "every day",
        ),
        (
            "Events:\n  S: {Type: Schedule, Properties: {Schedule: rate(1 day), Input: '{oops'}}\n",
            "Resources.Fn.Properties.Events.S.Properties.Input",
            "invalid JSON",
        ),
        (
            "Events:\n  S: {Type: Schedule, Properties: {Schedule: rate(1 day), Enabled: true, State: ENABLED}}\n",
            "Resources.Fn.Properties.Events.S.Properties.State",
            "Enabled and State are both set, expected only one of them",
        ),
        (
            "Events:\n  S: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 day), ScheduleExpressionTimezone: Mars/Base}}\n",
            "Resources.Fn.Properties.Events.S.Properties.ScheduleExpressionTimezone",
            'expected an IANA time zone name such as "UTC" or "Europe/Berlin", got "Mars/Base"',
        ),
        (
            "Events:\n  S: {Type: S3, Properties: {Bucket: !Ref Files, Events: s3:ObjectCreated:*, "
            "Filter: {S3Key: {Rules: [{Name: prefix, Value: a/}, {Name: prefix, Value: b/}]}}}}\n",
            "Resources.Fn.Properties.Events.S.Properties.Filter.S3Key.Rules[1].Name",
            'expected "prefix" or "suffix", each at most once, got "prefix"',
        ),
        (
            "EventInvokeConfig: {DestinationConfig: {OnSuccess: {Type: SQS}}}\n",
            "Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnSuccess.Destination",
            "missing: Squall does not create the queue SAM would generate",
        ),
        (
            "EventInvokeConfig: {MaximumRetryAttempts: 3}\n",
            "Resources.Fn.Properties.EventInvokeConfig.MaximumRetryAttempts",
            "expected a whole number of retries between 0 and 2, got 3",
        ),
        (
            "EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Jobs.Arn}}}\n"
            "Events:\n  K: {Type: Kinesis, Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST, "
            "DestinationConfig: {OnFailure: {Destination: !GetAtt Failed.Arn}}}}\n",
            "Resources.Fn.Properties.Events.K.Properties.DestinationConfig.OnFailure",
            'queue "failed" differs from the function\'s on-failure queue "jobs"',
        ),
    ],
)
def test_event_error(write_service: WriteService, properties: str, key: str, message: str) -> None:
    error = load_error(write_service, template(BASE + properties))

    assert error.key == key
    assert message in error.detail


def test_route_conflict_between_functions(write_service: WriteService) -> None:
    resources = RESOURCES + (
        "  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.greet\n"
        "      Runtime: python3.12\n      Events: {B: {Type: HttpApi, Properties: {Path: \"/items/{name}\", Method: GET}}}\n"
    )
    error = load_error(write_service, template(BASE + 'Events: {A: {Type: Api, Properties: {Path: "/items/{id}", Method: GET}}}\n',
                                               resources=resources))

    assert error.key == "Resources.Fn.Properties.Events.A"
    assert "matches the same requests as /items/{name}" in error.detail


# Resources ------------------------------------------------------------------------


def test_queue_settings(write_service: WriteService) -> None:
    resources = """\
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
      DelaySeconds: 5
      ReceiveMessageWaitTimeSeconds: 20
      RedrivePolicy: '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dead.fifo", "maxReceiveCount": 4}'
      KmsMasterKeyId: alias/aws/sqs
"""
    write_service(template(BASE, resources=resources), name="template.yaml")
    (Path(".") / "samconfig.toml").write_text('[default.deploy.parameters]\nstack_name = "shop"\n')

    spec = load_service(Path("."))

    assert spec.resources.queues == (
        QueueResource("shop-Jobs.fifo", delay_s=5, receive_wait_s=20, dead_letter_queue="dead.fifo",
                      max_receive_count=4, content_based_deduplication=True),
    )
    assert "Resources.Jobs.Properties.KmsMasterKeyId: not supported by Squall yet, ignored" in spec.warnings


@pytest.mark.parametrize(
    ("resources", "key", "message"),
    [
        (
            "  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs, FifoQueue: true}}\n",
            "Resources.Jobs.Properties.QueueName",
            'expected a FIFO queue name ending in ".fifo", got "jobs"',
        ),
        (
            "  Files: {Type: AWS::S3::Bucket, Properties: {BucketName: Not_Valid}}\n",
            "Resources.Files.Properties.BucketName",
            "expected a bucket name of 3 to 63 lowercase letters",
        ),
        (
            "  T: {Type: AWS::DynamoDB::Table, Properties: {AttributeDefinitions: [{AttributeName: id, AttributeType: S}], "
            "KeySchema: [{AttributeName: other, KeyType: HASH}]}}\n",
            "Resources.T.Properties.KeySchema[0].AttributeName",
            'expected an attribute declared in AttributeDefinitions (id), got "other"',
        ),
        (
            "  T: {Type: AWS::Serverless::SimpleTable, Properties: {PrimaryKey: {Name: id, Type: Text}}}\n",
            "Resources.T.Properties.PrimaryKey.Type",
            'expected "String", "Number" or "Binary", got "Text"',
        ),
        (
            "  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: !ImportValue shared-queue}}\n",
            "Resources.Jobs.Properties.QueueName.Fn::ImportValue",
            "Fn::ImportValue is not supported: values exported by other stacks do not exist in Squall",
        ),
        (
            "  S: {Type: AWS::Kinesis::Stream, Properties: {ShardCount: 0}}\n",
            "Resources.S.Properties.ShardCount",
            "expected a whole number of shards between 1 and 64, got 0",
        ),
    ],
)
def test_resource_error(write_service: WriteService, resources: str, key: str, message: str) -> None:
    error = load_error(write_service, template(BASE, resources=resources))

    assert error.key == key
    assert message in error.detail


def test_simple_table_default_key(write_service: WriteService) -> None:
    write_service(template(BASE, resources="  Users: {Type: AWS::Serverless::SimpleTable}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert [(table.partition_key, table.sort_key) for table in spec.resources.tables] == [(("id", "S"), None)]


def test_unsupported_resource_type_warns(write_service: WriteService) -> None:
    write_service(template(BASE, resources="  Topic: {Type: AWS::SNS::Topic}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert "Resources.Topic: resources of type AWS::SNS::Topic are not supported by Squall yet, ignored" in spec.warnings


def test_template_without_function_is_error(write_service: WriteService) -> None:
    error = load_error(write_service, "Transform: AWS::Serverless-2016-10-31\nResources:\n" + RESOURCES)

    assert error.key == "Resources"
    assert error.detail == "no resource of Type AWS::Serverless::Function, expected at least one function"


# Finding the template ----------------------------------------------------------------


def test_serverless_yml_wins_over_template(write_service: WriteService) -> None:
    write_service(template(BASE), name="template.yaml")
    folder = write_service("service: sls\nprovider: {name: aws, runtime: python3.12}\nfunctions:\n  greet: {handler: app.greet}\n",
                           name="serverless.yml")

    assert find_manifest(folder).name == "serverless.yml"


def test_both_template_spellings_rejected(write_service: WriteService) -> None:
    write_service(template(BASE), name="template.yml")
    folder = write_service(template(BASE), name="template.yaml")

    with pytest.raises(ManifestError) as raised:
        find_manifest(folder)

    assert raised.value.detail == "both template.yaml and template.yml exist, expected only one of them"


def test_logging_config_sets_lambdas_variables(write_service: WriteService) -> None:
    globals_text = """\
        LoggingConfig: {LogFormat: JSON}
    """
    function = load(write_service, template(BASE + "LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: WARN}\n", globals_text))

    assert function.environment == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}


def test_logging_config_rejects_unknown_format(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "LoggingConfig: {LogFormat: Yaml}\n"))

    assert error.key == "Resources.Fn.Properties.LoggingConfig.LogFormat"
    assert "one of Text, JSON" in str(error)


@pytest.mark.parametrize(
    ("properties", "globals_text", "key", "meant"),
    [
        (BASE + "MemmorySize: 256\n", "", "Resources.Fn.Properties.MemmorySize", "MemorySize"),
        (BASE + "timeout: 5\n", "", "Resources.Fn.Properties.timeout", "Timeout"),
        (BASE, "Timout: 5\n", "Globals.Function.Timout", "Timeout"),
    ],
)
def test_misspelt_property_is_rejected(
    write_service: WriteService, properties: str, globals_text: str, key: str, meant: str
) -> None:
    # SAM rejects a property it does not define, so the function does not deploy with a default by mistake.
    error = load_error(write_service, template(properties, globals_text))

    assert error.key == key
    assert f'did you mean "{meant}"?' in str(error)


def test_misspelt_globals_section_is_rejected(write_service: WriteService) -> None:
    text = template(BASE).replace("Resources:\n", "Globals:\n  Funtion: {Timeout: 5}\nResources:\n", 1)

    error = load_error(write_service, text)

    assert error.key == "Globals.Funtion"
    assert 'did you mean "Function"?' in str(error)


def test_sam_property_squall_lacks_is_a_warning(write_service: WriteService) -> None:
    write_service(template(BASE + "SnapStart: {ApplyOn: PublishedVersions}\n"), name="template.yaml")

    spec = load_service(Path("."))

    assert "Resources.Fn.Properties.SnapStart: not supported by Squall yet, ignored" in spec.warnings


def test_sqs_batch_above_ten_needs_window(write_service: WriteService) -> None:
    events = "Events:\n  Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 50}}\n"

    error = load_error(write_service, template(BASE + events))

    # Lambda takes more than 10 messages per batch only with a batching window.
    assert error.key == "Resources.Fn.Properties.Events.Q.Properties.BatchSize"
    assert "MaximumBatchingWindowInSeconds of at least 1 second" in str(error)


@pytest.mark.parametrize(
    ("properties", "modules", "key", "message"),
    [
        (BASE + "Events:\n  E: {Properties: {Path: /a, Method: get}}\n", ("app.py",),
         "Resources.Fn.Properties.Events.E.Type", "missing, expected an event type: Api, HttpApi"),
        (BASE + "Events:\n  K: {Type: Kinesis, Properties: {Stream: !GetAtt Clicks.Arn}}\n", ("app.py",),
         "Resources.Fn.Properties.Events.K.Properties.StartingPosition", 'missing, expected "LATEST" or "TRIM_HORIZON"'),
        (BASE + "CodeUri: src/app.py\n", ("src/app.py",),
         "Resources.Fn.Properties.CodeUri", "is a file, expected the function's code folder"),
    ],
)
def test_mistake_named_plainly(
    write_service: WriteService, properties: str, modules: tuple[str, ...], key: str, message: str
) -> None:
    error = load_error(write_service, template(properties), modules=modules)

    assert error.key == key
    assert message in str(error)


def test_event_type_typo_is_rejected(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "Events:\n  Q: {Type: Sqs, Properties: {Queue: !GetAtt Jobs.Arn}}\n"))

    assert error.key == "Resources.Fn.Properties.Events.Q.Type"
    assert 'did you mean "SQS"?' in str(error)


def test_auto_publish_all_properties_false_warns(write_service: WriteService) -> None:
    extra = "AutoPublishAlias: live\nAutoPublishAliasAllProperties: false\n"
    write_service(template(BASE + extra, resources=RESOURCES), name="template.yaml")

    warnings = load_service(Path(".")).warnings

    assert any(
        warning.startswith("Resources.Fn.Properties.AutoPublishAliasAllProperties: Squall publishes a new version")
        for warning in warnings
    ), warnings
